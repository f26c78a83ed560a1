import { expect, test } from "@playwright/test";
import { signIn } from "./auth";

test.beforeEach(async ({ page }) => {
  page.on("pageerror", (err) => {
    throw new Error(`page error: ${err.message}`);
  });
});

test("the live rules of the demo web ACL read in plain words, with their cost and JSON", async ({ page }) => {
  await signIn(page, "viewer", "/rules?web_acl=shop&scope=REGIONAL");
  await expect(page.getByRole("heading", { level: 1, name: "Rate rules" })).toBeVisible();
  const live = page.getByRole("region", { name: "shop (REGIONAL): live rules" });
  await expect(live).toBeVisible();
  const rules = page.getByTestId("live-rules").locator(":scope > li");
  await expect(rules).toHaveCount(3);
  await expect(rules.nth(0)).toContainText("Run the AWS managed rule group AWSManagedRulesAmazonIpReputationList");
  await expect(rules.nth(1)).toContainText(
    "Block an IP that sends more than 150 requests to paths starting with /login in any 5 minutes",
  );
  await expect(rules.nth(2)).toContainText("Block an IP that sends more than 7,000 requests in any 5 minutes");
  await expect(page.getByTestId("capacity")).toHaveText("31 WCU of the 1,500 a web ACL includes");

  // The JSON of a rule is AWS's, as the console's JSON editor shows it.
  await rules.nth(1).getByText("JSON").click();
  const json = JSON.parse(await rules.nth(1).locator("pre").innerText());
  expect(json.Statement.RateBasedStatement.ScopeDownStatement.ByteMatchStatement.SearchString).toBe("/login");
  expect(json.Statement.RateBasedStatement.Limit).toBe(150);

  await expect(page.getByRole("region", { name: "Templates" }).locator("details")).toHaveCount(5);
});

test("another web ACL is one choice away, and the link keeps it", async ({ page }) => {
  await signIn(page, "viewer", "/rules");
  await page.getByLabel("Web ACL").selectOption("vpn-geo");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page).toHaveURL(/web_acl=vpn-geo/);
  await expect(page.getByRole("region", { name: "vpn-geo (REGIONAL): live rules" })).toBeVisible();
  await expect(page.getByTestId("live-rules").locator(":scope > li").first()).toBeVisible();
});
