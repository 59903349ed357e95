// Renders the body that mqa-relay POSTs to a Slack incoming webhook ({"text", "blocks",
// "attachments"?}) the way Slack's message view lays it out: Block Kit blocks, then each
// attachment behind its colour bar (its own blocks, or the legacy title/text/fields/footer).

// Slack's colours for the named attachment colours.
const NAMED_COLORS = { good: "#2eb886", warning: "#daa038", danger: "#a30200" };

const warnings = [];

function el(tag, className, html) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (html !== undefined) e.innerHTML = html;
  return e;
}

function textObject(t) {
  if (!t) return "";
  if (t.type === "mrkdwn") return window.mrkdwnToHtml(t.text || "");
  return window.plainToHtml(t.text || "", t.emoji);
}

function button(b) {
  const style = b.style === "primary" || b.style === "danger" ? ` ${b.style}` : "";
  return el("span", `button${style}`, window.plainToHtml(b.text ? b.text.text : "", true));
}

function element(e) {
  switch (e.type) {
    case "button":
      return button(e);
    case "image":
      return el("span", "image-element", "");
    case "mrkdwn":
    case "plain_text":
      return el("span", "context-text", textObject(e));
    default: {
      warnings.push(`slack: element type "${e.type}" drawn as a placeholder`);
      const label = e.placeholder ? window.plainToHtml(e.placeholder.text || "") : e.type;
      return el("span", "button select", `${label} ▾`);
    }
  }
}

function section(b) {
  const box = el("div", "block section");
  const main = el("div", "section-main");
  if (b.text) main.appendChild(el("div", "section-text", textObject(b.text)));
  if (Array.isArray(b.fields) && b.fields.length) {
    const grid = el("div", "fields");
    for (const f of b.fields) grid.appendChild(el("div", "field", textObject(f)));
    main.appendChild(grid);
  }
  box.appendChild(main);
  if (b.accessory) {
    const acc = el("div", "accessory");
    acc.appendChild(element(b.accessory));
    box.appendChild(acc);
  }
  return box;
}

function block(b) {
  switch (b.type) {
    case "header":
      return el("div", "block header", textObject(b.text));
    case "section":
      return section(b);
    case "divider":
      return el("hr", "block divider");
    case "context": {
      const box = el("div", "block context");
      for (const e of b.elements || []) box.appendChild(element(e));
      return box;
    }
    case "actions": {
      const box = el("div", "block actions");
      for (const e of b.elements || []) box.appendChild(element(e));
      return box;
    }
    case "image": {
      const box = el("div", "block image-block");
      if (b.title) box.appendChild(el("div", "image-title", textObject(b.title)));
      box.appendChild(el("div", "image-placeholder", window.plainToHtml(b.alt_text || "image")));
      return box;
    }
    default:
      warnings.push(`slack: block type "${b.type}" is not drawn`);
      return el("div", "block unsupported", `[${window.escapeHtml(b.type)} block]`);
  }
}

function blocks(list) {
  const box = el("div", "blocks");
  for (const b of list) box.appendChild(block(b));
  return box;
}

function legacyAttachment(a) {
  const box = el("div", "legacy");
  if (a.author_name) box.appendChild(el("div", "author", window.plainToHtml(a.author_name)));
  if (a.title) {
    const title = window.plainToHtml(a.title);
    const link = a.title_link ? `<a href="${window.escapeHtml(a.title_link)}">${title}</a>` : title;
    box.appendChild(el("div", "title", link));
  }
  if (a.text) box.appendChild(el("div", "section-text", window.mrkdwnToHtml(a.text)));
  if (Array.isArray(a.fields) && a.fields.length) {
    const grid = el("div", "legacy-fields");
    for (const f of a.fields) {
      const cell = el("div", f.short ? "field short" : "field");
      cell.appendChild(el("div", "field-title", window.plainToHtml(f.title || "")));
      cell.appendChild(el("div", "field-value", window.mrkdwnToHtml(String(f.value ?? ""))));
      grid.appendChild(cell);
    }
    box.appendChild(grid);
  }
  if (a.footer) box.appendChild(el("div", "footer", window.mrkdwnToHtml(a.footer)));
  return box;
}

function attachment(a) {
  const wrap = el("div", "attachment-wrap");
  if (a.pretext) wrap.appendChild(el("div", "pretext", window.mrkdwnToHtml(a.pretext)));
  const box = el("div", "attachment");
  const bar = el("div", "bar");
  bar.style.background = NAMED_COLORS[a.color] || a.color || "#dddddd";
  box.appendChild(bar);
  const body = el("div", "attachment-body");
  if (Array.isArray(a.blocks) && a.blocks.length) body.appendChild(blocks(a.blocks));
  else body.appendChild(legacyAttachment(a));
  box.appendChild(body);
  wrap.appendChild(box);
  return wrap;
}

/** A conversation: `{"parent": body, "replies": [body, …]}`, the parent as the channel shows it
 * (with its reply count) and its thread below, as Slack's thread panel lists it. */
function renderThread(input) {
  const { parent, replies } = input.payload;
  if (!parent || !Array.isArray(replies)) {
    throw new Error("not a conversation: expected {parent, replies}");
  }
  document.getElementById("time").textContent = input.time;
  const content = document.getElementById("content");
  content.appendChild(blocks(parent.blocks || []));
  const count = replies.length === 1 ? "1 reply" : `${replies.length} replies`;
  content.appendChild(el("div", "thread-summary", `<span class="thread-avatar">MQ</span> ${count}`));
  const shot = document.getElementById("shot");
  shot.appendChild(el("div", "thread-rule", `<span>${count}</span>`));
  for (const reply of replies) {
    const message = el("div", "message reply");
    message.appendChild(el("div", "avatar", "MQ"));
    const body = el("div", "message-body");
    const head = el("div", "message-head");
    head.innerHTML = `<span class="name">MonitorQA</span><span class="app-badge">APP</span>
      <span class="time">${window.escapeHtml(input.time)}</span>`;
    body.appendChild(head);
    body.appendChild(blocks(reply.blocks || []));
    if (reply.reply_broadcast) {
      body.appendChild(el("div", "broadcast", "Also sent to the channel"));
    }
    message.appendChild(body);
    shot.appendChild(message);
  }
  window.finishRender();
  return warnings;
}

window.renderMessage = function renderMessage(input) {
  const p = input.payload;
  if (p && p.parent) return renderThread(input);
  if (!p || typeof p !== "object" || Array.isArray(p)) {
    throw new Error("not a Slack webhook body: expected a JSON object");
  }
  const hasBlocks = Array.isArray(p.blocks) && p.blocks.length > 0;
  const hasAttachments = Array.isArray(p.attachments) && p.attachments.length > 0;
  if (!hasBlocks && !hasAttachments && !p.text) {
    throw new Error("nothing to show: no text, blocks or attachments (Slack answers 400 no_text)");
  }
  if (!p.text) warnings.push("slack: no top-level text, so notifications show no preview");
  document.getElementById("time").textContent = input.time;
  const content = document.getElementById("content");
  // With blocks, the top-level text is only the notification fallback and is not shown.
  if (hasBlocks) content.appendChild(blocks(p.blocks));
  else if (p.text) content.appendChild(el("div", "section-text", window.mrkdwnToHtml(p.text)));
  for (const a of p.attachments || []) content.appendChild(attachment(a));
  window.finishRender();
  return warnings;
};
