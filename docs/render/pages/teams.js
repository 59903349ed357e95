// Renders the body that mqa-relay POSTs to a Teams Workflows webhook
// ({"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive",
// "content":{AdaptiveCard}}]}) with Microsoft's own Adaptive Cards renderer, using the
// Microsoft Teams light host config from Microsoft's Adaptive Cards designer.

const CARD_TYPE = "application/vnd.microsoft.card.adaptive";

// Segoe UI is Teams' face; where it is missing Teams falls back to Roboto, as here.
const TEAMS_FONT = "'Segoe UI', 'Segoe UI Web (West European)', Roboto, 'Helvetica Neue', sans-serif, 'Noto Color Emoji'";
const TEAMS_MONO = "Consolas, 'Courier New', 'DejaVu Sans Mono', monospace";

async function loadHostConfig() {
  const res = await fetch("teams-host-config.json");
  const json = await res.json();
  json.fontTypes.default.fontFamily = TEAMS_FONT;
  json.fontTypes.monospace.fontFamily = TEAMS_MONO;
  return new AdaptiveCards.HostConfig(json);
}

function setUpMarkdown() {
  // Teams renders a Markdown subset in TextBlocks and facts; no raw HTML.
  const md = window.markdownit({ html: false, linkify: false, breaks: false });
  AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
    result.outputHtml = md.render(text);
    result.didProcess = true;
  };
}

function cardsOf(payload) {
  if (!payload || payload.type !== "message" || !Array.isArray(payload.attachments)) {
    throw new Error('not a Teams Workflows body: expected {"type":"message","attachments":[...]}');
  }
  const cards = payload.attachments.filter((a) => a && a.contentType === CARD_TYPE);
  if (cards.length === 0) {
    throw new Error(`no attachment with contentType ${CARD_TYPE}`);
  }
  return cards.map((a) => a.content);
}

function renderCard(content, hostConfig, warnings) {
  const card = new AdaptiveCards.AdaptiveCard();
  card.hostConfig = hostConfig;
  const context = new AdaptiveCards.SerializationContext();
  card.parse(content, context);
  for (let i = 0; i < context.eventCount; i++) {
    warnings.push(`card parse: ${context.getEventAt(i).message}`);
  }
  for (const e of card.validateProperties().validationEvents) {
    warnings.push(`card validation: ${e.message}`);
  }
  const element = card.render();
  if (!element) {
    throw new Error("the Adaptive Cards renderer returned nothing for this card");
  }
  return element;
}

window.renderMessage = async function renderMessage(input) {
  const warnings = [];
  setUpMarkdown();
  const hostConfig = await loadHostConfig();
  document.getElementById("time").textContent = input.time;
  const holder = document.getElementById("cards");
  for (const content of cardsOf(input.payload)) {
    const frame = document.createElement("div");
    frame.className = "card";
    frame.appendChild(renderCard(content, hostConfig, warnings));
    holder.appendChild(frame);
  }
  window.finishRender();
  return warnings;
};
