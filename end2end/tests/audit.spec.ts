import { expect, test } from "@playwright/test";
import { readFile } from "node:fs/promises";
import { signIn } from "./auth";

test("the audit page shows sign-ins and failures, filters them and exports the view", async ({ page }) => {
  test.setTimeout(120_000);
  // A failed attempt first, so there is something to filter for.
  await page.goto("/sign-in");
  await page.getByLabel("Username").fill("viewer");
  await page.getByLabel("Password").fill("Wrong-password-1");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Incorrect username or password.");

  await signIn(page, "approver");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Audit" })).toBeVisible();
  const newest = page.getByRole("row").nth(1);
  await expect(newest).toContainText("approver");
  await expect(newest).toContainText("Signed in");

  // A refusal of someone not signed in is counted first, and goes into the
  // trail as one event per address and minute when its minute closes.
  await page.getByLabel("Action").selectOption("auth.sign_in_failed");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/action=auth\.sign_in_failed/);
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId("audit-summary")).toHaveText("1 event matches; page 1 of 1.", {
      timeout: 1000,
    });
  }).toPass({ timeout: 90_000, intervals: [5_000] });
  await expect(page.locator("td[data-action]")).toHaveText(["Sign-in failed"]);
  await expect(page.getByRole("row").nth(1)).toContainText("viewer");

  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "CSV" }).click();
  const file = await (await download).path();
  const lines = (await readFile(file, "utf8")).trim().split("\n");
  expect(lines[0]).toContain("actor_username,action");
  expect(lines).toHaveLength(2);
  expect(lines[1]).toContain(",viewer,auth.sign_in_failed,");
});
