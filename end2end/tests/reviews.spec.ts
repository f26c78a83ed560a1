import { expect, test, type Page } from "@playwright/test";
import { hydrated, signIn, step, PASSWORD } from "./auth";
import { waf } from "./aws";

function noPageErrors(page: Page) {
  page.on("pageerror", (err) => {
    throw new Error(`page error: ${err.message}`);
  });
}

/** The shop web ACL's blanket limit as AWS WAF (the emulator) holds it, read through the API. */
async function blanketLimit(page: Page): Promise<number> {
  const reply = await page.request.get("/api/v1/web-acls/REGIONAL/shop/rules");
  expect(reply.ok()).toBeTruthy();
  const { rules } = await reply.json();
  return rules.find((r: { Name: string }) => r.Name === "BlanketRule").Statement.RateBasedStatement.Limit;
}

/** Sets rate limits of the shop web ACL outside Gatehouse. */
async function setLimitsElsewhere(limits: Record<string, number>) {
  const { WebACLs } = await waf("ListWebACLs", { Scope: "REGIONAL", Limit: 100 });
  const shop = WebACLs.find((acl: { Name: string }) => acl.Name === "shop");
  const { WebACL, LockToken } = await waf("GetWebACL", { Name: "shop", Scope: "REGIONAL", Id: shop.Id });
  for (const rule of WebACL.Rules) {
    if (rule.Name in limits) rule.Statement.RateBasedStatement.Limit = limits[rule.Name];
  }
  await waf("UpdateWebACL", {
    Name: "shop",
    Scope: "REGIONAL",
    Id: shop.Id,
    LockToken,
    DefaultAction: WebACL.DefaultAction,
    VisibilityConfig: WebACL.VisibilityConfig,
    Rules: WebACL.Rules,
  });
}


test("an editor proposes 7000 → 9000 with a traffic analysis; another person approves and applies it by link", async ({
  browser,
}) => {
  test.setTimeout(90_000);
  const editorContext = await browser.newContext();
  const approverContext = await browser.newContext();
  const editor = await editorContext.newPage();
  const approver = await approverContext.newPage();
  noPageErrors(editor);
  noPageErrors(approver);

  // The evidence: the traffic analysis that shows the flood.
  await signIn(editor, "editor", "/traffic");
  const analysis = await editor.getByTestId("share-link").getAttribute("href");
  expect(analysis).toMatch(/^\/traffic\?/);
  expect(await blanketLimit(editor)).toBe(7000);

  // The draft, from the Rate rules page.
  await editor.goto("/rules?web_acl=shop&scope=REGIONAL");
  await hydrated(editor);
  const form = editor.getByRole("region", { name: "Edit" });
  await form.getByLabel("BlanketRule limit").fill("9000");
  await form.getByLabel("Title").fill("Raise the blanket limit to 9000");
  await editor.getByRole("button", { name: "Save draft" }).click();
  await expect(editor.getByTestId("draft-saved")).toHaveText("Draft saved (no errors).");
  await editor.getByTestId("review-link").click();
  await expect(editor.getByRole("heading", { level: 1, name: "Raise the blanket limit to 9000" })).toBeVisible();
  await expect(editor.getByTestId("change-status")).toHaveText("Draft");
  await hydrated(editor);

  await editor.getByLabel("Description").fill("The flood of the demo day peaked far below 9000 per IP; shoppers behind NAT came close to 7000.");
  await step(editor, "Save description", "Description saved.");
  await editor.getByLabel("Traffic analysis link").fill(analysis!);
  await step(editor, "Attach as evidence", "Evidence attached.");
  const evidence = editor.getByTestId("evidence");
  await expect(evidence).toContainText("Recommended limit");
  await expect(evidence.locator("svg")).toBeVisible();
  await expect(editor.getByRole("button", { name: "Approve" }), "an editor does not approve").toHaveCount(0);
  await step(editor, "Submit for review", "Submitted for review");
  await expect(editor.getByTestId("change-status")).toHaveText("In review");
  const link = editor.url();
  expect(link).toMatch(/\/reviews\/[0-9a-f-]{36}$/);

  // The approver opens the shared link signed out, signs in, and lands on it.
  await approver.goto(link);
  await expect(approver.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();
  await approver.getByLabel("Username").fill("approver");
  await approver.getByLabel("Password").fill(PASSWORD);
  await approver.getByRole("button", { name: "Sign in" }).click();
  await expect(approver).toHaveURL(link);
  await expect(approver.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Reviews" })).toHaveAttribute(
    "aria-current",
    "page",
  );
  await expect(approver.getByRole("heading", { level: 1, name: "Raise the blanket limit to 9000" })).toBeVisible();
  await expect(approver.getByTestId("change-words")).toContainText(
    "BlanketRule: Statement.RateBasedStatement.Limit 7000 → 9000",
  );
  await expect(approver.getByTestId("evidence")).toContainText("Recommended limit");
  await expect(approver.getByTestId("description")).toContainText("The flood of the demo day");
  // Opening it changed nothing; the dashboard shows it waiting.
  await approver.goto("/");
  const waiting = approver.getByRole("region", { name: "Waiting for your review" });
  await expect(waiting.locator(`a[href="${new URL(link).pathname}"]`)).toHaveText("Raise the blanket limit to 9000");
  await approver.goto(link);
  await hydrated(approver);
  await approver.getByRole("textbox", { name: "Comment" }).fill("Matches the analysis.");
  await step(approver, "Add comment", "Comment added.");
  await step(approver, "Approve", "Approved: it can be applied.");
  await expect(approver.getByTestId("change-status")).toHaveText("Approved");
  await step(approver, "Apply to AWS", "Applied: AWS WAF holds the new rules.");
  await expect(approver.getByTestId("change-status")).toHaveText("Applied");
  await expect(approver.getByTestId("applied")).toContainText("by approver");
  expect(await blanketLimit(approver)).toBe(9000);

  // The timeline and the audit page show every step.
  const timeline = approver.getByTestId("timeline");
  for (const what of [
    "Draft saved",
    "Change request edited",
    "Evidence attached",
    "Change request submitted",
    "Comment added",
    "Change request approved",
    "Apply started",
    "Change applied to AWS",
  ]) {
    await expect(timeline).toContainText(what);
  }
  await approver.getByRole("link", { name: "In the audit trail" }).click();
  const audit = approver.getByRole("table");
  await expect(audit.getByText("Change applied to AWS")).toBeVisible();
  await expect(audit.getByText("Change request approved")).toBeVisible();
  await expect(audit.getByText("Change request submitted")).toBeVisible();

  // Rollback: a new change request restoring 7000, reviewed like any other.
  await approver.goto(link);
  await hydrated(approver);
  await step(approver, "Roll back: restore the state before this change", "restoring the rules before this one");
  await approver.getByTestId("step-result").getByRole("link", { name: "Open it" }).click();
  await expect(approver.getByTestId("change-status")).toHaveText("In review");
  await expect(approver.getByTestId("change-words")).toContainText("Limit 9000 → 7000");
  await hydrated(approver);
  await expect(approver.getByRole("button", { name: "Approve" }), "not by its own author").toHaveCount(0);
  const rollback = approver.url();

  const admin = await (await browser.newContext()).newPage();
  noPageErrors(admin);
  await signIn(admin, "admin", rollback);
  await expect(admin).toHaveURL(rollback);
  await hydrated(admin);
  await step(admin, "Approve", "Approved");
  await step(admin, "Apply to AWS", "Applied");
  expect(await blanketLimit(admin)).toBe(7000);

  // The dashboard: in sync with what Gatehouse last applied.
  await admin.goto("/");
  await expect(admin.getByTestId("drift")).toContainText("In sync");
  await expect(admin.getByTestId("drift")).toContainText("Roll back: Raise the blanket limit to 9000");
});

test("the reviews page lists change requests by status", async ({ page }) => {
  noPageErrors(page);
  await signIn(page, "viewer", "/reviews?status=applied");
  await expect(page.getByRole("heading", { level: 1, name: "Reviews" })).toBeVisible();
  const table = page.getByTestId("changes");
  await expect(table.getByRole("link", { name: "Raise the blanket limit to 9000", exact: true })).toBeVisible();
  await expect(table.getByRole("link", { name: "Roll back: Raise the blanket limit to 9000" })).toBeVisible();
  await expect(table.getByText("In review")).toHaveCount(0);
  await page.getByLabel("Status").selectOption("draft");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/status=draft/);
  await expect(page.getByText("No change requests.")).toBeVisible();
});

test("a change made in AWS after approval makes the request stale; nothing is overwritten, and a rebase carries it over", async ({
  browser,
}) => {
  test.setTimeout(90_000);
  const editor = await (await browser.newContext()).newPage();
  const approver = await (await browser.newContext()).newPage();
  noPageErrors(editor);
  noPageErrors(approver);
  await signIn(editor, "editor", "/rules?web_acl=shop&scope=REGIONAL");
  await hydrated(editor);
  const form = editor.getByRole("region", { name: "Edit" });
  await form.getByLabel("BlanketRule limit").fill("8000");
  await form.getByLabel("Title").fill("Blanket limit 8000");
  await editor.getByRole("button", { name: "Save draft" }).click();
  await editor.getByTestId("review-link").click();
  await hydrated(editor);
  await step(editor, "Submit for review", "Submitted for review");
  const link = editor.url();

  await signIn(approver, "approver", link);
  await hydrated(approver);
  await step(approver, "Approve", "Approved");

  // Meanwhile someone lowers the /login limit in the AWS console.
  await setLimitsElsewhere({ UriBasedRule: 120 });
  await step(approver, "Apply to AWS", "changed elsewhere");
  await expect(approver.getByTestId("change-status")).toHaveText("Stale");
  const stale = approver.getByRole("region", { name: "The web ACL changed elsewhere" });
  await expect(stale).toContainText("UriBasedRule: Statement.RateBasedStatement.Limit 120 → 150");
  await expect(stale).toContainText("BlanketRule: Statement.RateBasedStatement.Limit 7000 → 8000");
  const live = await (await approver.request.get("/api/v1/web-acls/REGIONAL/shop/rules")).json();
  const limit = (name: string) =>
    live.rules.find((r: { Name: string }) => r.Name === name).Statement.RateBasedStatement.Limit;
  expect([limit("UriBasedRule"), limit("BlanketRule")], "nothing was overwritten").toEqual([120, 7000]);

  // The author rebases; it needs approval again, and then keeps both changes.
  await editor.reload();
  await hydrated(editor);
  await step(editor, "Rebase onto the live rules", "it needs approval again");
  await expect(editor.getByTestId("change-status")).toHaveText("In review");
  await expect(editor.getByTestId("change-words")).toHaveText("BlanketRule: Statement.RateBasedStatement.Limit 7000 → 8000. Now: Block an IP that sends more than 8,000 requests in any 5 minutes");
  // Edited again from the rules editor: still in review.
  await editor.getByRole("link", { name: "Edit the rules" }).click();
  await hydrated(editor);
  await editor.getByRole("region", { name: "Edit" }).getByLabel("Title").fill("Blanket limit 8000, rebased");
  await editor.getByRole("button", { name: "Save (back to review)" }).click();
  await expect(editor.getByTestId("draft-saved")).toHaveText("Saved; it is back in review (no errors).");
  await approver.reload();
  await hydrated(approver);
  await expect(approver.getByRole("heading", { level: 1, name: "Blanket limit 8000, rebased" })).toBeVisible();
  await expect(approver.getByTestId("approvals")).toContainText("of earlier content: does not count");
  await step(approver, "Approve", "Approved");
  await step(approver, "Apply to AWS", "Applied");
  const after = await (await approver.request.get("/api/v1/web-acls/REGIONAL/shop/rules")).json();
  const now = (name: string) =>
    after.rules.find((r: { Name: string }) => r.Name === name).Statement.RateBasedStatement.Limit;
  expect([now("UriBasedRule"), now("BlanketRule")]).toEqual([120, 8000]);

  // Back to the demo's limits, for the tests after this one.
  await setLimitsElsewhere({ UriBasedRule: 150, BlanketRule: 7000 });
});
