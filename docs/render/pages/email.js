// Shows the HTML part of an email inside a mail-client-like frame: subject, from and to
// (from <name>.email.json, if there is one; else the HTML's <title>), then the message in a
// sandboxed iframe (no scripts, as in a mail client) sized to its content.

function splitAddress(s) {
  const m = /^\s*"?([^"<]*?)"?\s*<([^>]+)>\s*$/.exec(s || "");
  return m ? { name: m[1] || m[2], address: m[2] } : { name: s || "", address: "" };
}

function list(v) {
  if (Array.isArray(v)) return v.join(", ");
  return v || "";
}

function titleOf(html) {
  const doc = new DOMParser().parseFromString(html, "text/html");
  return (doc.title || "").trim();
}

function loadBody(frame, html) {
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error("the email HTML did not finish loading")), 8000);
    frame.addEventListener("load", () => {
      clearTimeout(timer);
      ok();
    }, { once: true });
    frame.srcdoc = html;
  });
}

// The frame's document is never shorter than the frame, so shrink the frame first.
function fitHeight(frame) {
  frame.style.height = "0px";
  frame.style.height = `${frame.contentDocument.documentElement.scrollHeight}px`;
}

window.renderMessage = async function renderMessage(input) {
  const warnings = [];
  const header = input.header || {};
  const subject = header.subject || titleOf(input.html);
  if (!header.subject) warnings.push("email: no <name>.email.json subject; using the HTML <title>");
  document.getElementById("subject").textContent = subject || "(no subject)";
  const from = splitAddress(header.from || "MonitorQA alerts");
  document.getElementById("from-name").textContent = from.name;
  document.getElementById("from-address").textContent = from.address ? `<${from.address}>` : "";
  document.getElementById("avatar").textContent = (from.name.trim()[0] || "M").toUpperCase();
  const to = list(header.to);
  const cc = list(header.cc);
  document.getElementById("to").textContent = [to && `To: ${to}`, cc && `Cc: ${cc}`].filter(Boolean).join("   ");
  document.getElementById("time").textContent = header.date || input.time;

  const frame = document.getElementById("body");
  await loadBody(frame, input.html);
  const doc = frame.contentDocument;
  // A mail client's default face for whatever the email leaves unstyled; first in the
  // cascade, so the email's own rules win.
  const base = doc.createElement("style");
  base.textContent = "body { font-family: Arial, Helvetica, sans-serif; }";
  doc.head.prepend(base);
  await doc.fonts.ready;
  const images = [...doc.images].filter((img) => !img.complete);
  await Promise.all(images.map((img) => new Promise((ok) => {
    img.addEventListener("load", ok, { once: true });
    img.addEventListener("error", ok, { once: true });
  })));
  fitHeight(frame);
  await window.finishRender();
  // Measure again once every font is in: text may have reflowed.
  fitHeight(frame);
  return warnings;
};
