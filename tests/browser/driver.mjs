// The browser suite's driver: one headless Debian Chromium showing one page, driven by
// playwright-core. It takes commands as JSON lines on stdin and answers each with one JSON line on
// stdout, so a pytest test (tests/browser/browser.py) can interleave browser steps with chat steps.
//
//   first line out: {"ready": true, "chromium": "156.0...", "playwright": "1.61.1"}
//   in:             {"id": 1, "cmd": "goto", "url": "https://..."}
//   out:            {"id": 1, "ok": true, "result": ...} or {"id": 1, "ok": false, "error": "..."}
//
// Commands: reset (a fresh context and page), goto {url, rewrite?}, title, text {selector},
// fill {selector, value}, click {selector}, screenshot {path, full?}; and for pages with forms:
// texts {selector} (every match), value {selector} (an input's), count {selector}, check
// {selector} (a radio or checkbox), press {key, selector?} (a key, e.g. "Tab" or "Enter", at the
// element or wherever the focus is), type {text} (keys at the focus), wait {selector, state?},
// waitText {selector, text} (until the element shows text), viewport {width, height}, url,
// evaluate {fn, arg?} (a function's source, run in the page), dialogs (the alert, confirm and
// prompt dialogs the page opened since reset: each is recorded and dismissed). The driver closes
// the browser and exits when stdin ends, so a test run that dies leaves no Chromium behind.
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';  // Debian's package; Playwright never downloads a browser
const TIMEOUT_MS = 10000;              // any single browser step
const DOWNLOAD_WAIT_MS = 3000;         // for the download event after a navigation became one

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  // Chromium refuses to start as root with its sandbox (it needs an unprivileged user for its
  // namespaces), and CI runs as root. The sandbox guards against hostile web content; the tests
  // load only the lab's own pages and files they made themselves. As another user it stays on.
  args: process.getuid() === 0 ? ['--no-sandbox'] : [],
});
let context = null;
let page = null;
let dialogs = [];  // {type, message} of every dialog the page opened, since the last reset

// A new browser context (no cookies, storage, routes or page left from before) with one page.
async function freshPage() {
  if (context) await context.close();
  // TLS errors are not ignored: the lab CA is trusted through the NSS database in
  // $HOME/.pki/nssdb that browser.py made for this run, so every page comes over verified TLS.
  context = await browser.newContext({ ignoreHTTPSErrors: false, acceptDownloads: true });
  page = await context.newPage();
  dialogs = [];
  // a dialog nobody answers would block the page; a test asks for the list (dialogs)
  page.on('dialog', (d) => {
    dialogs.push({ type: d.type(), message: d.message() });
    d.dismiss().catch(() => {});
  });
  page.setDefaultTimeout(TIMEOUT_MS);
  page.setDefaultNavigationTimeout(TIMEOUT_MS);
}
await freshPage();

async function describe(response) {
  return {
    status: response.status(),
    url: response.url(),
    // allHeaders: headers() leaves out security-related ones
    headers: await response.allHeaders(),
    body: await response.text(),
    tls: await response.securityDetails(),
  };
}

// Serves one navigation to url with the real answer's headers changed: {name: value} sets,
// {name: null} removes. The real answer is fetched by Playwright in Node (which trusts the lab CA
// through NODE_EXTRA_CA_CERTS), not by Chromium. Returns {error}: why the rewrite failed, if it
// did (the navigation then fails too, with a message of Chromium's that does not say why).
async function rewriteOnce(url, rewrite) {
  const outcome = { error: null };
  await page.route((u) => u.href === url, async (route) => {
    try {
      const response = await route.fetch();
      const headers = { ...response.headers() };
      for (const [name, value] of Object.entries(rewrite)) {
        if (value === null) delete headers[name.toLowerCase()];
        else headers[name.toLowerCase()] = value;
      }
      await route.fulfill({ response, headers });
    } catch (err) {
      // thrown out of a route handler, it would end the driver
      outcome.error = err;
      await route.abort().catch(() => {});
    }
  }, { times: 1 });
  return outcome;
}

const commands = {
  reset: () => freshPage().then(() => null),
  // {response: {status, url, headers, body, tls} or null, title} when a page loaded, or
  // {download: {filename, url, path, failure}} when the browser saved the answer as a file
  // (path: the saved bytes, until the browser closes).
  async goto({ url, rewrite }) {
    const rewriting = rewrite ? await rewriteOnce(url, rewrite) : { error: null };
    let downloaded;
    const download = new Promise((resolve) => { downloaded = resolve; });
    page.on('download', downloaded);
    try {
      const response = await page.goto(url);
      // no response for about:blank and data: URLs
      return { response: response && await describe(response), title: await page.title() };
    } catch (err) {
      if (rewriting.error) throw rewriting.error;
      // A navigation that turns into a download ends with one of these errors (Playwright's own
      // test for it); the download event may come before or after it.
      if (!/Download is starting|net::ERR_ABORTED/.test(err.message)) throw err;
      const d = await Promise.race([download,
        new Promise((resolve) => setTimeout(resolve, DOWNLOAD_WAIT_MS, null))]);
      if (!d) throw err;
      return { download: { filename: d.suggestedFilename(), url: d.url(), path: await d.path(),
        failure: await d.failure() } };
    } finally {
      page.off('download', downloaded);
    }
  },
  title: () => page.title(),
  text: ({ selector }) => page.locator(selector).innerText(),
  fill: ({ selector, value }) => page.locator(selector).fill(value).then(() => null),
  click: ({ selector }) => page.locator(selector).click().then(() => null),
  // full: the whole page (default), or false for what the viewport shows
  screenshot: ({ path, full }) => page.screenshot({ path, fullPage: full !== false })
    .then(() => path),
  texts: ({ selector }) => page.locator(selector).allInnerTexts(),
  value: ({ selector }) => page.locator(selector).inputValue(),
  count: ({ selector }) => page.locator(selector).count(),
  check: ({ selector }) => page.locator(selector).check().then(() => null),
  press: ({ key, selector }) => (selector ? page.locator(selector).press(key)
    : page.keyboard.press(key)).then(() => null),
  type: ({ text }) => page.keyboard.type(text).then(() => null),
  // state: attached, detached, visible (default) or hidden
  wait: ({ selector, state }) => page.locator(selector).waitFor({ state }).then(() => null),
  // until the element's text contains text (case and spacing aside, as Playwright's hasText);
  // returns the text it shows
  async waitText({ selector, text }) {
    const el = page.locator(selector).filter({ hasText: text });
    await el.waitFor();
    return el.innerText();
  },
  viewport: ({ width, height }) => page.setViewportSize({ width, height }).then(() => null),
  url: () => page.url(),
  // fn: the source of a function, e.g. "(sel) => document.querySelectorAll(sel).length"; run in
  // the page with arg (a JSON value); a promise it returns is awaited
  evaluate: ({ fn, arg }) => page.evaluate(new Function(`return (${fn});`)(), arg),
  dialogs: () => dialogs,
};

function send(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const require = createRequire(import.meta.url);
send({ ready: true, chromium: browser.version(),
  playwright: require('playwright-core/package.json').version });

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (!line.trim()) continue;
  let id = null;
  try {
    const { id: given, cmd, ...args } = JSON.parse(line);
    id = given;
    if (!Object.hasOwn(commands, cmd)) throw new Error(`unknown command ${JSON.stringify(cmd)}`);
    // undefined (a function that returns nothing) would leave "result" out of the JSON
    send({ id, ok: true, result: (await commands[cmd](args)) ?? null });
  } catch (err) {
    // without the call log Playwright appends, and its terminal colours
    const message = String(err.message || err).split('\nCall log:')[0];
    send({ id, ok: false, error: message.replace(/\x1b\[[0-9;]*m/g, '') });
  }
}
await browser.close();
