// The operator page's only script (no inline script is allowed by the page's policy).
//
// 1. Collects what goes wrong in the page (script errors, refused promises, anything the
//    Content-Security-Policy blocks) into #ui-errors, shown to the operator and read by the
//    browser tests, so a broken page cannot pass for a working one.
// 2. Draws each Teams card of a preview with Microsoft's Adaptive Cards renderer
//    (adaptivecards.min.js and markdown-it.min.js, loaded only on the preview page), with the
//    Teams light host config; buttons in a preview do nothing.
"use strict";

(function () {
  const problems = [];

  function note(text) {
    problems.push(text);
    const list = document.getElementById("ui-errors");
    if (!list) return;
    const item = document.createElement("li");
    item.textContent = text;
    list.appendChild(item);
    list.hidden = false;
    list.dataset.count = String(problems.length);
  }

  window.addEventListener("error", (e) => note(`error: ${e.message || e.type}`));
  window.addEventListener("unhandledrejection", (e) => note(`unhandled: ${e.reason}`));
  document.addEventListener("securitypolicyviolation", (e) =>
    note(`blocked by the page's policy: ${e.violatedDirective} ${e.blockedURI || ""}`.trim()),
  );

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = () => reject(new Error(`cannot load ${src}`));
      document.head.appendChild(script);
    });
  }

  const CARD_TYPE = "application/vnd.microsoft.card.adaptive";
  const TEAMS_FONT = "'Segoe UI', 'Segoe UI Web (West European)', Roboto, 'Helvetica Neue', sans-serif";

  async function drawTeamsCards() {
    const islands = document.querySelectorAll("script.teams-card");
    if (islands.length === 0) return;
    await loadScript("/ui/assets/markdown-it.min.js");
    await loadScript("/ui/assets/adaptivecards.min.js");
    const md = window.markdownit({ html: false, linkify: false, breaks: false });
    AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
      result.outputHtml = md.render(text);
      result.didProcess = true;
    };
    const config = await (await fetch("/ui/assets/teams-host-config.json")).json();
    config.fontTypes.default.fontFamily = TEAMS_FONT;
    const hostConfig = new AdaptiveCards.HostConfig(config);
    for (const island of islands) {
      const frame = island.nextElementSibling;
      frame.textContent = "";
      try {
        const payload = JSON.parse(island.textContent);
        for (const attachment of payload.attachments || []) {
          if (attachment.contentType !== CARD_TYPE) continue;
          const card = new AdaptiveCards.AdaptiveCard();
          card.hostConfig = hostConfig;
          card.onExecuteAction = () => {};
          card.parse(attachment.content);
          const element = card.render();
          if (element) frame.appendChild(element);
        }
        frame.dataset.rendered = "true";
      } catch (e) {
        const p = document.createElement("p");
        p.className = "notice dead";
        p.textContent = `✗ The card could not be drawn: ${e.message}`;
        frame.appendChild(p);
        frame.dataset.rendered = "failed";
      }
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    drawTeamsCards().catch((e) => note(`teams preview: ${e.message}`));
  });
})();
