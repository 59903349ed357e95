// Shared by the pages: marks the page done once layout has settled and every web font
// that the laid-out text needs has loaded (fonts with a unicode-range load on first use).
window.renderDone = false;

window.finishRender = async function finishRender() {
  void document.body.offsetHeight;
  await document.fonts.ready;
  await new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)));
  await document.fonts.ready;
  window.renderDone = true;
};

window.escapeHtml = function escapeHtml(s) {
  return String(s)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
};
