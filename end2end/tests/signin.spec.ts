import { expect, test } from "@playwright/test";
import { signIn } from "./auth";

const roles = [
  { username: "viewer", role: "viewer", settings: false },
  { username: "editor", role: "editor", settings: false },
  { username: "approver", role: "approver", settings: false },
  { username: "admin", role: "admin", settings: true },
];

for (const { username, role, settings } of roles) {
  test(`${username} signs in and sees what the ${role} role allows`, async ({ page }) => {
    await signIn(page, username);
    await expect(page.getByTestId("role")).toHaveText(role);
    const nav = page.getByRole("navigation", { name: "Main" });
    await expect(nav.getByRole("link", { name: "Audit" })).toBeVisible();
    await expect(nav.getByRole("link", { name: "Settings" })).toHaveCount(settings ? 1 : 0);
    const response = await page.goto("/settings");
    expect(response?.status()).toBe(settings ? 200 : 403);
    if (!settings) {
      await expect(page.getByRole("heading", { level: 1, name: "Not allowed" })).toBeVisible();
    }
  });
}

test("a wrong password is refused with a plain message", async ({ page }) => {
  await page.goto("/");
  await page.getByLabel("Username").fill("editor");
  await page.getByLabel("Password").fill("Not-the-password-1");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Incorrect username or password.");
  await expect(page.getByTestId("username")).toHaveCount(0);
});

test("a deep link survives sign-in", async ({ page }) => {
  await signIn(page, "approver2", "/reviews?status=in_review");
  await expect(page).toHaveURL("/reviews?status=in_review");
  await expect(page.getByRole("heading", { level: 1, name: "Reviews" })).toBeVisible();
});

test("sign-out ends the session", async ({ page, context }) => {
  await signIn(page, "editor");
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("status")).toHaveText("You are signed out.");
  const cookies = await context.cookies();
  expect(cookies.find((c) => c.name === "gatehouse_session")).toBeUndefined();
  await page.goto("/audit");
  await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();
});

test("the session cookie is HttpOnly, so page scripts never see it", async ({ page, context }) => {
  await signIn(page, "viewer");
  const cookie = (await context.cookies()).find((c) => c.name === "gatehouse_session");
  expect(cookie?.httpOnly).toBe(true);
  expect(cookie?.sameSite).toBe("Lax");
  expect(await page.evaluate(() => document.cookie)).not.toContain("gatehouse_session");
});
