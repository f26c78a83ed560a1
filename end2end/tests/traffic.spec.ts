import { expect, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { hydrated, signIn } from "./auth";

/** `gatehouse traffic top --format json` on the console's own database (CONSOLE_BIN, DATABASE_URL). */
function cliTop(link: string, limit: number) {
  const query = new URL(link, "http://x").searchParams;
  const args = ["traffic", "top", "--format", "json", "--limit", String(limit)];
  for (const name of ["from", "to", "window", "by", "uri", "method", "country"]) {
    const value = query.get(name);
    if (value) args.push(`--${name}=${value}`);
  }
  if (query.get("uri_match")) args.push(`--uri-match=${query.get("uri_match")}`);
  if (query.get("sliding") === "true") args.push("--sliding");
  // The binary reads GATEHOUSE_* as its settings: pass none of the runner's.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("GATEHOUSE_")));
  const out = execFileSync(process.env.CONSOLE_BIN!, args, { env: { ...env, RUST_LOG: "warn" } });
  return JSON.parse(out.toString()) as { key: string; count: number; window_start: string }[];
}

async function tableRows(page: import("@playwright/test").Page, n: number) {
  const rows = page.getByTestId("top-table").locator("tbody tr");
  const out = [];
  for (let i = 0; i < n; i++) {
    const cells = await rows.nth(i).locator("td").allTextContents();
    out.push({ count: Number(cells[0]), window_start: cells[1], key: cells[2].replace(" not an IP", "") });
  }
  return out;
}

test("the demo's flood and brute force show in the analysis, the charts and the CLI alike", async ({ page }) => {
  await signIn(page, "viewer", "/traffic");
  await expect(page.getByRole("heading", { level: 1, name: "Traffic" })).toBeVisible();
  const demoImport = page.getByRole("region", { name: "Imports" }).getByRole("row").filter({ hasText: "demo" });
  await expect(demoImport.first()).toBeVisible();

  // Default analysis: everything imported, by client IP, 5-minute windows. The flood leads.
  await expect(page.getByTestId("top-table").locator("tbody tr").first()).toContainText("198.51.100.");
  // Twenty rows at once; the rest fold away.
  await expect(page.getByTestId("top-table").locator("tbody tr")).toHaveCount(20);
  await expect(page.getByText(/^\d+ more rows$/)).toBeVisible();
  const charts = page.getByRole("region", { name: "Charts" }).locator("figure svg");
  await expect(charts).toHaveCount(3);
  await expect(page.getByRole("region", { name: "Charts" })).toContainText("198.51.100.");

  const link = (await page.getByTestId("share-link").getAttribute("href"))!;
  expect(await tableRows(page, 10)).toEqual(
    cliTop(link, 10).map((r) => ({ count: r.count, window_start: r.window_start, key: r.key })),
  );

  // The brute force: POSTs to /login.
  await page.getByLabel("URI", { exact: true }).fill("/login");
  await page.getByLabel("Method").fill("POST");
  await page.getByRole("button", { name: "Analyse" }).click();
  await expect(page).toHaveURL(/uri=%2Flogin|uri=\/login/);
  await expect(page.getByTestId("top-table").locator("tbody tr").first()).toContainText("203.0.113.4");
  const loginLink = (await page.getByTestId("share-link").getAttribute("href"))!;
  expect(loginLink).toContain("method=POST");
  expect(await tableRows(page, 4)).toEqual(
    cliTop(loginLink, 4).map((r) => ({ count: r.count, window_start: r.window_start, key: r.key })),
  );
  const recommended = await page.getByTestId("recommended").textContent();
  expect(Number(recommended)).toBeGreaterThanOrEqual(10);
});

test("a shared analysis link opens the same analysis for someone else, through sign-in", async ({ page, browser }) => {
  await signIn(page, "editor", "/traffic?window=60&sliding=true&by=ip");
  await expect(page.getByTestId("top-table").locator("tbody tr").first()).toBeVisible();
  const link = (await page.getByTestId("share-link").getAttribute("href"))!;
  expect(link).toContain("window=60");
  expect(link).toContain("sliding=true");
  const mine = await page.getByTestId("top-table").textContent();
  const peaks = await page.getByTestId("peaks").textContent();

  const other = await browser.newContext();
  const theirs = await other.newPage();
  await theirs.goto(link);
  await expect(theirs).toHaveURL(/\/sign-in\?next=/);
  await theirs.getByLabel("Username").fill("approver");
  await theirs.getByLabel("Password").fill("Gatehouse-demo-1");
  await theirs.getByRole("button", { name: "Sign in" }).click();
  await expect(theirs.getByTestId("peaks")).toHaveText(peaks!);
  expect(await theirs.getByTestId("top-table").textContent()).toBe(mine);
  await expect(theirs.getByLabel("Sliding windows (every 10 s)")).toBeChecked();
  await other.close();
});

test("a question that cannot be answered says why and keeps the form", async ({ page }) => {
  await signIn(page, "viewer", "/traffic?window=30");
  await expect(page.getByRole("alert")).toContainText("60, 120, 300, 600");
  await expect(page.getByRole("button", { name: "Analyse" })).toBeVisible();
});

const FIXTURE = `${__dirname}/../../../shared/fixtures/waf-logs/security-automations-cloudfront.jsonl.gz`;

test("an editor uploads a log file; the same file again counts nothing twice", async ({ page }) => {
  await signIn(page, "editor", "/traffic");
  await hydrated(page);
  const upload = page.getByRole("region", { name: "Import a log file" });
  for (let round = 0; round < 2; round++) {
    await upload.getByLabel(/WAF log file/).setInputFiles(FIXTURE);
    await upload.getByRole("button", { name: "Upload and import" }).click();
    await expect(page.getByTestId("upload-result")).toContainText(/Imported \d+ records/);
  }
  // The second time, everything was already there.
  await expect(page.getByTestId("upload-result")).toContainText("Imported 0 records (0 malformed lines, 228 records already imported)");
  await page.getByRole("link", { name: "Show the analysis" }).click();
  await expect(page.getByRole("region", { name: "Imports" }).getByRole("row").filter({ hasText: "upload" }).first()).toBeVisible();
});

test("a viewer cannot import", async ({ page }) => {
  await signIn(page, "viewer", "/traffic");
  await hydrated(page);
  const upload = page.getByRole("region", { name: "Import a log file" });
  await upload.getByLabel(/WAF log file/).setInputFiles(FIXTURE);
  await upload.getByRole("button", { name: "Upload and import" }).click();
  await expect(upload.getByRole("alert")).toContainText("editor role");
});
