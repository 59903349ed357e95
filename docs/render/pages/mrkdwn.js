// Slack mrkdwn to HTML, as Slack's message view shows it.
//
// Input is the text exactly as sent to Slack: `&`, `<`, `>` arrive as &amp; &lt; &gt;, and a
// literal `<` only ever opens a link or mention (<url|label>, <!here>, <@U…>, <#C…|name>).
// Supported: *bold*, _italic_, ~strike~, `code`, ```code blocks```, > quotes, links,
// mentions, line breaks and common :emoji: short codes. Everything else is text.

(function () {
  const EMOJI = {
    white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", warning: "⚠️",
    rotating_light: "🚨", red_circle: "🔴", large_green_circle: "🟢", large_yellow_circle: "🟡",
    large_orange_circle: "🟠", hourglass: "⌛", hourglass_flowing_sand: "⏳", clock3: "🕒",
    calendar: "📆", date: "📅", memo: "📝", clipboard: "📋", bell: "🔔", no_entry: "⛔",
    no_entry_sign: "🚫", fire: "🔥", wastebasket: "🗑️", pencil: "📝", pencil2: "✏️",
    link: "🔗", bar_chart: "📊", chart_with_upwards_trend: "📈", tada: "🎉", eyes: "👀",
    mag: "🔍", information_source: "ℹ️", exclamation: "❗", question: "❓", star: "⭐",
    thumbsup: "👍", "+1": "👍", thumbsdown: "👎", "-1": "👎", repeat: "🔁", arrows_counterclockwise: "🔄",
    new: "🆕", lock: "🔒", snowflake: "❄️", thermometer: "🌡️", file_folder: "📁", page_facing_up: "📄",
    heavy_plus_sign: "➕", recycle: "♻️", stopwatch: "⏱️", alarm_clock: "⏰", package: "📦",
  };

  function decodeEntities(s) {
    return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  // Decoded, then made safe for HTML.
  function text(s) {
    return window.escapeHtml(decodeEntities(s));
  }

  function emoji(html) {
    return html.replace(/:([a-z0-9_+-]+):/g, (all, name) => (EMOJI[name] ? EMOJI[name] : all));
  }

  function emphasis(html) {
    // Slack only opens a mark at a word boundary and closes it before one.
    const mark = (ch) =>
      new RegExp(`(^|[^\\w${ch}])\\${ch}(?!\\s)([^${ch}\\n]*?[^\\s${ch}])\\${ch}(?![\\w${ch}])`, "g");
    let out = html;
    out = out.replace(mark("*"), "$1<b>$2</b>");
    out = out.replace(mark("_"), "$1<i>$2</i>");
    out = out.replace(mark("~"), "$1<s>$2</s>");
    return out;
  }

  function link(inner, format) {
    const bar = inner.indexOf("|");
    const target = bar < 0 ? inner : inner.slice(0, bar);
    const label = bar < 0 ? null : inner.slice(bar + 1);
    if (target.startsWith("!")) {
      const name = target.slice(1).split("^")[0];
      if (["here", "channel", "everyone"].includes(name)) {
        return `<span class="mention broadcast">@${name}</span>`;
      }
      return label !== null ? text(label) : text(`<${inner}>`);
    }
    if (target.startsWith("@")) {
      return `<span class="mention">@${text(label || target.slice(1))}</span>`;
    }
    if (target.startsWith("#")) {
      return `<span class="mention mention-channel">#${text(label || target.slice(1))}</span>`;
    }
    const shown = label !== null ? format(label) : text(target);
    return `<a href="${text(target)}">${shown}</a>`;
  }

  // One line (no code blocks) to HTML; code spans and links are set aside first so that
  // their insides are never formatted, then put back.
  function inline(line, slot) {
    const held = line.replace(/`([^`\n]+)`|<([^<>\n]+)>/g, (all, code, inner) =>
      slot(code !== undefined ? `<code>${text(code)}</code>` : link(inner, (l) => emphasis(emoji(text(l))))),
    );
    return emphasis(emoji(text(held)));
  }

  function mrkdwnToHtml(source) {
    const slots = [];
    const slot = (html) => `\u0000${slots.push(html) - 1}\u0000`;
    const withoutBlocks = String(source).replace(/```\n?([\s\S]*?)\n?```/g, (all, code) =>
      slot(`<pre>${text(code)}</pre>`),
    );
    // Runs of lines: plain lines are joined with <br>, "> " lines go into a blockquote.
    const runs = [];
    for (const line of withoutBlocks.split("\n")) {
      const quoted = line.startsWith(">");
      const html = inline(quoted ? line.replace(/^> ?/, "") : line, slot);
      const last = runs[runs.length - 1];
      if (last && last.quoted === quoted) last.lines.push(html);
      else runs.push({ quoted, lines: [html] });
    }
    const html = runs
      .map((r) => (r.quoted ? `<blockquote>${r.lines.join("<br>")}</blockquote>` : r.lines.join("<br>")))
      .join("");
    // Placeholders are plain digits between NULs; the escaping above left them alone.
    return html.replace(/\u0000(\d+)\u0000/g, (all, i) => slots[Number(i)]).replace(/<\/pre><br>/g, "</pre>");
  }

  function plainToHtml(source, withEmoji) {
    const html = text(String(source)).replace(/\n/g, "<br>");
    return withEmoji === false ? html : emoji(html);
  }

  window.mrkdwnToHtml = mrkdwnToHtml;
  window.plainToHtml = plainToHtml;
})();
