// Renders mqa-relay payloads to PNG pictures, as a person sees them.
//
//   node render.mjs PAYLOAD_DIR OUT_DIR
//
// For every <name>.teams.json, <name>.slack.json and <name>.email.html in PAYLOAD_DIR it
// loads the matching page from pages/ (served on 127.0.0.1 with the fonts and renderers
// from node_modules), hands it the payload, waits until the page says it is done, and
// screenshots the message element at device scale factor 2 to OUT_DIR/<name>.<kind>.png.
// Exits 1 if any payload failed; the others are still written.

import { createServer } from "node:http";
import { readFile, readdir, mkdir, stat } from "node:fs/promises";
import { join, extname, resolve, dirname, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
// A fixed time keeps the pictures identical from one run to the next.
const TIME = process.env.RENDER_TIME || "9:41 AM";
const KINDS = [
  { kind: "teams", suffix: ".teams.json", page: "teams.html", width: 480 },
  { kind: "slack", suffix: ".slack.json", page: "slack.html", width: 600 },
  { kind: "slack-thread", suffix: ".slack-thread.json", page: "slack.html", width: 600 },
  { kind: "email", suffix: ".email.html", page: "email.html", width: 680 },
];
// The flags that work on this kind of machine (no sandbox as root, no background networking).
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--font-render-hinting=none",
];

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

/** Serves pages/ at / and node_modules/ at /node_modules/, read-only, loopback only. */
function startServer() {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (path === "/favicon.ico") {
      res.writeHead(204).end();
      return;
    }
    const base = path.startsWith("/node_modules/") ? ROOT : join(ROOT, "pages");
    const file = normalize(join(base, path));
    if (!file.startsWith(base + sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] || "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

/** Lists the payloads in `dir` as {name, kind, file}, sorted by file name. */
async function findPayloads(dir) {
  const files = (await readdir(dir)).sort();
  const found = [];
  for (const file of files) {
    for (const k of KINDS) {
      if (file.endsWith(k.suffix) && file.length > k.suffix.length) {
        found.push({ ...k, name: file.slice(0, -k.suffix.length), file: join(dir, file) });
      }
    }
  }
  return found;
}

/** What the page's render(input) gets: the payload, plus the mail header for email. */
async function pageInput(p) {
  const text = await readFile(p.file, "utf8");
  if (p.kind !== "email") {
    return { payload: JSON.parse(text), time: TIME };
  }
  const headerFile = join(dirname(p.file), `${p.name}.email.json`);
  let header = {};
  try {
    header = JSON.parse(await readFile(headerFile, "utf8"));
  } catch (e) {
    if (e.code !== "ENOENT") throw new Error(`${headerFile}: ${e.message}`);
  }
  return { html: text, header, time: TIME };
}

async function renderOne(browser, origin, p, outDir) {
  const input = await pageInput(p);
  const page = await browser.newPage({
    viewport: { width: p.width, height: 400 },
    deviceScaleFactor: 2,
  });
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") {
      const where = m.location().url;
      problems.push(where ? `${m.text()} (${where})` : m.text());
    }
  });
  try {
    await page.goto(`${origin}/${p.page}`, { waitUntil: "load" });
    const warnings = await page.evaluate((i) => window.renderMessage(i), input);
    await page.evaluate(() => document.fonts.ready);
    await page.waitForFunction(() => window.renderDone === true, null, { timeout: 10000 });
    const out = join(outDir, `${p.name}.${p.kind}.png`);
    await page.locator("#shot").screenshot({ path: out, animations: "disabled" });
    return { out, warnings: [...(warnings || []), ...problems] };
  } finally {
    await page.close();
  }
}

async function main() {
  const [payloadDir, outDir] = process.argv.slice(2);
  if (!payloadDir || !outDir) {
    console.error("usage: node render.mjs PAYLOAD_DIR OUT_DIR");
    process.exit(2);
  }
  if (!(await stat(payloadDir).catch(() => null))?.isDirectory()) {
    console.error(`not a directory: ${payloadDir}`);
    process.exit(2);
  }
  const payloads = await findPayloads(resolve(payloadDir));
  if (payloads.length === 0) {
    console.error(`no *.teams.json, *.slack.json or *.email.html in ${payloadDir}`);
    process.exit(1);
  }
  await mkdir(outDir, { recursive: true });

  const server = await startServer();
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  let failed = 0;
  try {
    for (const p of payloads) {
      try {
        const { out, warnings } = await renderOne(browser, origin, p, resolve(outDir));
        console.log(`${p.file} -> ${out}`);
        for (const w of warnings) console.log(`  warning: ${w}`);
      } catch (e) {
        failed += 1;
        console.error(`${p.file}: ${e.message.split("\n")[0]}`);
      }
    }
  } finally {
    await browser.close();
    server.close();
  }
  console.log(`${payloads.length - failed} rendered, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

await main();
