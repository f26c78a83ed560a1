import { expect, test } from "@playwright/test";
import { hydrated, signIn } from "./auth";

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
  await expect(page.getByRole("region", { name: "Edit" }), "viewers do not edit").toHaveCount(0);
});

test("an editor changes the blanket limit and the /login scope; the JSON, checks and diff follow; the draft is saved", async ({
  page,
}) => {
  await signIn(page, "editor", "/rules?web_acl=shop&scope=REGIONAL");
  await hydrated(page);
  const editor = page.getByRole("region", { name: "Edit" });
  const json = page.getByTestId("rules-json");
  const findings = page.getByTestId("editor-findings");
  const rules = async () => JSON.parse(await json.inputValue());
  await expect(findings).toHaveText("No problems found.");

  await editor.getByLabel("BlanketRule limit").fill("9000");
  await editor.getByLabel("UriBasedRule path").fill("/signin");
  const edited = await rules();
  const blanket = edited.find((r: { Name: string }) => r.Name === "BlanketRule");
  const login = edited.find((r: { Name: string }) => r.Name === "UriBasedRule");
  expect(blanket.Statement.RateBasedStatement.Limit).toBe(9000);
  expect(login.Statement.RateBasedStatement.ScopeDownStatement.ByteMatchStatement.SearchString).toBe("/signin");
  const diff = page.getByTestId("diff");
  await expect(diff).toContainText("BlanketRule: Statement.RateBasedStatement.Limit 7000 → 9000");
  await expect(diff).toContainText('SearchString "/login" → "/signin"');

  // Checked as you type, in the browser.
  await editor.getByLabel("BlanketRule limit").fill("5");
  await expect(findings).toContainText("Limit is 5; WAF allows 10 to 2,000,000,000");
  await editor.getByLabel("BlanketRule limit").fill("9000");
  await expect(findings).toHaveText("No problems found.");

  // The JSON view leads the form as well.
  const text = (await json.inputValue()).replace('"Limit": 150', '"Limit": 200');
  await json.fill(text);
  await expect(editor.getByLabel("UriBasedRule limit")).toHaveValue("200");
  await json.fill("[{");
  await expect(findings).toContainText("Not JSON");
  await expect(page.getByRole("button", { name: "Save draft" })).toBeDisabled();
  await json.fill(text);

  await editor.getByLabel("Title").fill("Raise the blanket limit");
  await page.getByRole("button", { name: "Save draft" }).click();
  await expect(page.getByTestId("draft-saved")).toHaveText("Draft saved (no errors).");
  await page.goto("/audit");
  await expect(page.getByRole("table").getByText("Draft saved").first()).toBeVisible();
});

test("another web ACL is one choice away, and the link keeps it", async ({ page }) => {
  await signIn(page, "viewer", "/rules");
  await page.getByLabel("Web ACL").selectOption({ label: "vpn-geo" });
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page).toHaveURL(/vpn-geo/);
  await expect(page.getByRole("region", { name: "vpn-geo (REGIONAL): live rules" })).toBeVisible();
  await expect(page.getByTestId("live-rules").locator(":scope > li").first()).toBeVisible();
});

test("a saved draft is listed, reopens as saved, takes a new order and a template, and is discarded", async ({ page }) => {
  const shop = "/rules?web_acl=shop&scope=REGIONAL";
  await signIn(page, "editor", shop);
  await hydrated(page);
  const editor = page.getByRole("region", { name: "Edit" });
  await editor.getByLabel("BlanketRule limit").fill("8000");
  await editor.getByLabel("Title").fill("Drafted");
  await page.getByRole("button", { name: "Save draft" }).click();
  await expect(page.getByTestId("draft-saved")).toBeVisible();

  await page.goto(shop);
  await page.getByRole("region", { name: "Drafts" }).getByRole("link", { name: "Drafted" }).click();
  await expect(page).toHaveURL(/draft=/);
  await hydrated(page);
  await expect(editor.getByLabel("BlanketRule limit")).toHaveValue("8000");
  await expect(editor.getByLabel("Title")).toHaveValue("Drafted");

  // A new order: the blanket rule before the /login rule, which the lint questions.
  await editor.getByRole("button", { name: "Move BlanketRule up" }).click();
  const order = page.getByTestId("priorities").locator("li");
  await expect(order.nth(1)).toContainText("1 BlanketRule");
  await expect(order.nth(2)).toContainText("2 UriBasedRule");
  await expect(page.getByTestId("diff")).toContainText("BlanketRule: Priority 2 → 1");
  await expect(page.getByTestId("editor-findings")).toContainText(
    'this specific rate rule comes after the blanket rule "BlanketRule"',
  );

  // What the rule counts per, and what it does, from the form too.
  await editor.getByLabel("BlanketRule key").selectOption("FORWARDED_IP");
  await expect(editor.getByLabel("BlanketRule header")).toHaveValue("X-Forwarded-For");
  await editor.getByLabel("BlanketRule header").fill("True-Client-IP");
  await editor.getByLabel("BlanketRule action").selectOption("Count");
  const blanket = JSON.parse(await page.getByTestId("rules-json").inputValue()).find(
    (r: { Name: string }) => r.Name === "BlanketRule",
  );
  expect(blanket.Statement.RateBasedStatement.AggregateKeyType).toBe("FORWARDED_IP");
  expect(blanket.Statement.RateBasedStatement.ForwardedIPConfig.HeaderName).toBe("True-Client-IP");
  expect(blanket.Action).toEqual({ Count: {} });

  await editor.getByLabel("Template").selectOption({ label: "Limit for some countries" });
  await editor.getByRole("button", { name: "Add to the draft" }).click();
  await expect(page.getByTestId("diff")).toContainText("rate-limit-countries: added");
  expect(await page.getByTestId("rules-json").inputValue()).toContain('"CountryCodes"');
  await page.getByRole("button", { name: "Save draft" }).click();
  await expect(page.getByTestId("draft-saved")).toBeVisible();

  await page.getByRole("button", { name: "Discard draft" }).click();
  await expect(page.getByTestId("draft-discarded")).toHaveText("Draft discarded.");
  await page.goto(shop);
  await expect(page.getByRole("link", { name: "Drafted" })).toHaveCount(0);
});
