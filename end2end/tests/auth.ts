import { expect, type Page } from "@playwright/test";

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
