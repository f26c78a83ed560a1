import { expect, test } from "@playwright/test";
import { hydrated, signIn } from "./auth";

const sections = [
  { label: "Dashboard", path: "/", heading: "Dashboard" },
  { label: "Traffic", path: "/traffic", heading: "Traffic" },
  { label: "Rate rules", path: "/rules", heading: "Rate rules" },
  { label: "Policies", path: "/policies", heading: "Policies" },
  { label: "VPN countries", path: "/vpn-countries", heading: "VPN countries" },
  { label: "Reviews", path: "/reviews", heading: "Reviews" },
  { label: "Audit", path: "/audit", heading: "Audit" },
  { label: "Settings", path: "/settings", heading: "Settings" },
];

test.beforeEach(async ({ page }) => {
  page.on("pageerror", (err) => {
    throw new Error(`page error: ${err.message}`);
  });
});

test("the dashboard shows the demo resources and both dependencies up", async ({ page }) => {
  await signIn(page, "viewer");
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await expect(page.getByText("All systems answer.")).toBeVisible();
  const resources = page.getByRole("table");
  for (const name of ["shop", "vpn-geo", "vpn", "auth-policy-store", "imported", "gatehouse-demo", "gatehouse-console"]) {
    await expect(resources.getByRole("rowheader", { name, exact: true })).toBeVisible();
  }
});

test("every section is reachable from the navigation", async ({ page }) => {
  await signIn(page, "admin");
  await hydrated(page);
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const section of sections) {
    await nav.getByRole("link", { name: section.label, exact: true }).click();
    await expect(page).toHaveURL(section.path);
    await expect(page.getByRole("heading", { level: 1, name: section.heading })).toBeVisible();
    await expect(nav.getByRole("link", { name: section.label, exact: true })).toHaveAttribute("aria-current", "page");
    await expect(page).toHaveTitle(`${section.heading} · Gatehouse`);
  }
});

test("Check again re-runs the health check in place (needs hydration)", async ({ page }) => {
  await signIn(page, "viewer");
  await hydrated(page);
  const checkedAt = page.getByTestId("checked-at");
  const before = await checkedAt.getAttribute("datetime");
  expect(before).toBeTruthy();
  let reloaded = false;
  page.on("framenavigated", () => (reloaded = true));
  await page.getByRole("button", { name: "Check again" }).click();
  await expect(checkedAt).not.toHaveAttribute("datetime", before!);
  expect(reloaded).toBe(false);
});

test("on a narrow screen the menu button folds the navigation (needs hydration)", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 800 });
  await signIn(page, "viewer");
  await hydrated(page);
  const nav = page.getByRole("navigation", { name: "Main" });
  const menu = page.getByRole("button", { name: "Menu" });
  await expect(nav).toBeHidden();
  await expect(menu).toHaveAttribute("aria-expanded", "false");
  await menu.click();
  await expect(menu).toHaveAttribute("aria-expanded", "true");
  await expect(nav).toBeVisible();
  await nav.getByRole("link", { name: "Audit" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Audit" })).toBeVisible();
  await expect(nav).toBeHidden();
});

test("a page counts as hydrated only once its own code has arrived", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 800 });
  await signIn(page, "viewer");
  // Open the dashboard afresh with its page's own file held back.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route(/\/pkg\/[^/]*dashboard_island_loader[^/]*\.wasm$/, async (route) => {
    await held;
    await route.continue();
  });
  await page.reload();
  // The shell hydrates meanwhile: its menu button works...
  const menu = page.getByRole("button", { name: "Menu" });
  await expect(async () => {
    await menu.click();
    await expect(menu).toHaveAttribute("aria-expanded", "true", { timeout: 500 });
  }).toPass();
  // ...but the page's buttons would not yet, so the page is not marked.
  await expect(page.locator("html")).not.toHaveAttribute("data-hydrated", "true");
  release();
  await hydrated(page);
  await menu.click();
  const checkedAt = page.getByTestId("checked-at");
  const before = await checkedAt.getAttribute("datetime");
  await page.getByRole("button", { name: "Check again" }).click();
  await expect(checkedAt).not.toHaveAttribute("datetime", before!);
});

test("keyboard users can skip to the content and see where focus is", async ({ page }) => {
  await signIn(page, "viewer", "/traffic");
  await hydrated(page);
  await page.keyboard.press("Tab");
  const skip = page.getByRole("link", { name: "Skip to content" });
  await expect(skip).toBeFocused();
  const outline = await skip.evaluate((el) => getComputedStyle(el).outlineStyle);
  expect(outline).not.toBe("none");
});

test("an unknown path shows the not-found page with status 404", async ({ page }) => {
  await signIn(page, "viewer");
  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { level: 1, name: "Page not found" })).toBeVisible();
  await expect(page.getByText("/no/such/page")).toBeVisible();
  await page.getByRole("link", { name: "Go to the dashboard" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
});

test("a page downloads the code of its own islands only", async ({ page }) => {
  const wasm = new Set<string>();
  page.on("response", (response) => {
    const { pathname } = new URL(response.url());
    if (pathname.startsWith("/pkg/") && pathname.endsWith(".wasm")) wasm.add(pathname);
  });
  // A lazy island's own file is named after it: split_<island>_loader_….
  const islands = () => [...wasm].filter((file) => /\/split_[a-z_]+_loader_/.test(file));
  // Reviews is server-rendered HTML with no island of its own.
  await signIn(page, "admin", "/reviews");
  await hydrated(page);
  expect(wasm.size, "the islands' shared module").toBeGreaterThanOrEqual(1);
  expect(islands()).toEqual([]);

  await page.goto("/policies");
  await expect(page.getByRole("heading", { level: 2, name: "Simulator" })).toBeVisible();
  await hydrated(page);
  expect(islands()).toHaveLength(1);
  expect(islands()[0]).toMatch(/policy_tools_loader/);
});
