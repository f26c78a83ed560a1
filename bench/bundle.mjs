// What a first visit to each page downloads from /pkg/ (the WASM and its
// JavaScript), in Debian's Chromium with an empty cache, signed in as the
// demo admin. Each page is opened in a fresh browser context; the files it
// fetched are looked up in the site's pkg folder and counted as they are
// sent gzip-compressed (the .gz beside each file), beside the whole bundle.
//
//   node bench/bundle.mjs URL PKG_DIR PATH...
import { createRequire } from "node:module";
import { statSync, readdirSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// Playwright as the end2end suite installed it (without its browsers).
const end2end = join(dirname(fileURLToPath(import.meta.url)), "..", "end2end", "package.json");
const { chromium } = createRequire(end2end)("playwright-core");

const [url, pkg, ...paths] = process.argv.slice(2);
const PASSWORD = "Gatehouse-demo-1";
const gz = (name) => statSync(join(pkg, `${name}.gz`)).size;
const raw = (name) => statSync(join(pkg, name)).size;
const kb = (bytes) => (bytes / 1000).toFixed(0).padStart(6);

/** A WASM module's code section size and its data segments' bytes. */
function sections(bytes) {
  let at = 8;
  const leb = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  // A segment's offset: `i32.const n` or `global.get i`, then `end`.
  const skipExpression = () => {
    at++;
    leb();
    at++;
  };
  let code = 0;
  const data = [];
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = leb();
    const end = at + size;
    if (id === 10) code = size;
    if (id === 11) {
      for (let count = leb(); count > 0; count--) {
        const kind = leb();
        if (kind === 2) leb();
        if (kind !== 1) skipExpression();
        const length = leb();
        data.push(bytes.subarray(at, at + length));
        at += length;
      }
    }
    at = end;
  }
  return { code, data: Buffer.concat(data) };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
  ],
});

// A session cookie, taken once through the sign-in form.
const signIn = await (await browser.newContext()).newPage();
await signIn.goto(`${url}/sign-in`);
await signIn.getByLabel("Username").fill("admin");
await signIn.getByLabel("Password").fill(PASSWORD);
await signIn.getByRole("button", { name: "Sign in" }).click();
await signIn.getByTestId("username").waitFor();
const cookies = await signIn.context().cookies();

const code = (name) => /\.(wasm|js)$/.test(name);
const whole = readdirSync(pkg).filter(code);
const wholeGz = whole.reduce((sum, name) => sum + gz(name), 0);
const wholeRaw = whole.reduce((sum, name) => sum + raw(name), 0);
console.log(`whole bundle: ${whole.length} files, ${kb(wholeRaw)} KB, ${kb(wholeGz)} KB gzipped`);
// The module every page loads first: static data cannot be split out of it.
const shell = whole.find((name) => /^gatehouse\.[^.]+\.wasm$/.test(name));
if (shell) {
  const { code: codeBytes, data } = sections(readFileSync(join(pkg, shell)));
  console.log(
    `shell ${shell}: ${kb(raw(shell)).trim()} KB, ${kb(gz(shell)).trim()} KB gzipped; ` +
      `static data ${kb(data.length).trim()} KB (${kb(gzipSync(data, { level: 9 }).length).trim()} KB gzipped alone), ` +
      `code ${kb(codeBytes).trim()} KB`,
  );
}
console.log(`${"page".padEnd(28)} files     KB  KB gz  of whole (gz)`);
let worst = 0;
for (const path of paths) {
  const context = await browser.newContext();
  if (path !== "/sign-in") await context.addCookies(cookies);
  const page = await context.newPage();
  const fetched = new Set();
  const logged = [];
  page.on("console", (message) => logged.push(message.text()));
  page.on("pageerror", (err) => {
    throw new Error(`${path}: page error: ${err.message}\n${logged.join("\n")}`);
  });
  page.on("response", (response) => {
    const { pathname } = new URL(response.url());
    if (pathname.startsWith("/pkg/") && code(pathname)) fetched.add(pathname.slice(5));
  });
  await page.goto(`${url}${path}`);
  await page.locator("html[data-hydrated=true]").waitFor({ state: "attached" });
  await page.waitForLoadState("networkidle");
  const files = [...fetched];
  const sent = files.reduce((sum, name) => sum + gz(name), 0);
  const plain = files.reduce((sum, name) => sum + raw(name), 0);
  worst = Math.max(worst, sent);
  console.log(
    `${path.padEnd(28)} ${String(files.length).padStart(5)} ${kb(plain)} ${kb(sent)}  ${(sent / wholeGz).toFixed(2)}×`,
  );
  await context.close();
}
console.log(`largest first visit: ${kb(worst).trim()} KB gzipped (goal ≤ 400), ${(worst / wholeGz).toFixed(2)}× the whole bundle`);
await browser.close();
