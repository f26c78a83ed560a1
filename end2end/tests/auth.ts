import { expect, type Browser, type Page } from "@playwright/test";

/** The demo's sign-ins (gatehouse demo --json prints the same). */
export const PASSWORD = "Gatehouse-demo-1";

/** Resolves once the WASM bundle has hydrated the page. */
export async function hydrated(page: Page) {
  await page.locator("html[data-hydrated=true]").waitFor({ state: "attached" });
}

/** Signs in through the sign-in form, starting from `path`. */
export async function signIn(page: Page, username: string, path = "/") {
  await page.goto(path);
  await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("username")).toHaveText(username);
}

/** A signed-in page of its own for `username` (a fresh context), opened at `path` and hydrated; a page error fails the test. */
export async function person(browser: Browser, username: string, path = "/") {
  const page = await (await browser.newContext()).newPage();
  page.on("pageerror", (err) => {
    throw new Error(`page error: ${err.message}`);
  });
  await signIn(page, username, path);
  await hydrated(page);
  return page;
}

/** Takes a step on the review page and waits for what it came to. The page's
 *  controls are an island: a click before it hydrates does nothing, so a step
 *  taken right after a link loaded the page waits for it. */
export async function step(page: Page, name: string, result: string | RegExp) {
  await hydrated(page);
  await page.getByRole("button", { name }).click();
  await expect(page.getByTestId("step-result")).toContainText(result);
}
