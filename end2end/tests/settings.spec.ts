import { expect, test, type Browser, type Page } from "@playwright/test";
import { hydrated, signIn } from "./auth";
import { waf } from "./aws";

function noPageErrors(page: Page) {
  page.on("pageerror", (err) => {
    throw new Error(`page error: ${err.message}`);
  });
}

/** A web ACL made outside Gatehouse (once per emulator). */
async function webAclMadeElsewhere(name: string) {
  const { WebACLs } = await waf("ListWebACLs", { Scope: "REGIONAL", Limit: 100 });
  if (WebACLs.some((acl: { Name: string }) => acl.Name === name)) return;
  await waf("CreateWebACL", {
    Name: name,
    Scope: "REGIONAL",
    DefaultAction: { Allow: {} },
    VisibilityConfig: { SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true, MetricName: name },
    Rules: [],
  });
}

async function step(page: Page, name: string, result: string | RegExp) {
  await page.getByRole("button", { name }).click();
  await expect(page.getByTestId("step-result")).toContainText(result);
}

/** A signed-in page of its own for `username`, opened at `path`. */
async function person(browser: Browser, username: string, path = "/") {
  const page = await (await browser.newContext()).newPage();
  noPageErrors(page);
  await signIn(page, username, path);
  await hydrated(page);
  return page;
}

/** Submits the admin's settings draft (listed on the Settings page), and returns its review URL. */
async function submitDraft(admin: Page): Promise<string> {
  await admin.getByTestId("pending").getByRole("link", { name: "Draft change request" }).click();
  await expect(admin).toHaveURL(/\/reviews\//);
  await hydrated(admin);
  await expect(admin.getByTestId("change-status")).toHaveText("Draft");
  await step(admin, "Submit for review", "Submitted for review");
  await expect(admin.getByTestId("change-status")).toHaveText("In review");
  return admin.url();
}

/** The author's own approval: not offered, and refused by the server when asked anyway. */
async function selfApprovalIsRefused(admin: Page) {
  await expect(admin.getByRole("button", { name: "Approve" }), "not offered to its author").toHaveCount(0);
  const id = admin.url().split("/reviews/")[1];
  const reply = await admin.request.post("/api/take_step", {
    data: { id, step: "Approve", text: "" },
    headers: { Origin: new URL(admin.url()).origin },
  });
  expect(reply.ok()).toBeFalsy();
  expect(await reply.text()).toContain("No one approves their own change request");
  await admin.reload();
  await expect(admin.getByTestId("change-status")).toHaveText("In review");
}

/** `approver` opens the review at `url`, approves and applies it. */
async function approveAndApply(approver: Page, url: string) {
  await approver.goto(url);
  await hydrated(approver);
  await step(approver, "Approve", "Approved");
  await step(approver, "Apply the settings", "Applied");
  await expect(approver.getByTestId("change-status")).toHaveText("Applied");
}

test("an admin registers a web ACL made outside Gatehouse; a second admin approves; it is managed everywhere", async ({
  browser,
}) => {
  test.setTimeout(90_000);
  await webAclMadeElsewhere("partner-api");
  const admin = await person(browser, "admin", "/settings");
  const admin2 = await person(browser, "admin2");

  // Not managed yet: not on the Rate rules page.
  await admin.goto("/rules");
  await expect(admin.getByLabel("Web ACL").locator("option", { hasText: "partner-api" })).toHaveCount(0);

  await admin.goto("/settings");
  await hydrated(admin);
  await expect(admin.getByTestId("managed")).toContainText("web ACL shop (REGIONAL)");
  await admin.getByLabel("Web ACL to manage").selectOption({ label: "partner-api (REGIONAL)" });
  await admin.getByRole("button", { name: "Check and add web ACL" }).click();
  await expect(admin.getByRole("status").filter({ hasText: "Checked and added" })).toContainText(
    "web ACL partner-api (REGIONAL)",
  );
  // A check that fails names the call and AWS's code.
  await admin.getByLabel("DynamoDB table name").fill("no-such-table");
  await admin.getByRole("button", { name: "Check and add table" }).click();
  await expect(admin.getByRole("alert")).toContainText("DescribeTable failed: ResourceNotFoundException");

  const url = await submitDraft(admin);
  await expect(admin.getByText("Manage web ACL partner-api (REGIONAL)")).toBeVisible();
  await selfApprovalIsRefused(admin);
  await approveAndApply(admin2, url);

  // Managed: on the Settings page, the Rate rules page, the dashboard's drift, the IAM policy.
  await admin.goto("/settings");
  await expect(admin.getByTestId("managed")).toContainText("web ACL partner-api (REGIONAL)");
  await expect(admin.getByTestId("iam-policy")).toContainText("webacl/partner-api/");
  await admin.goto("/rules?web_acl=partner-api&scope=REGIONAL");
  await expect(admin.getByRole("region", { name: "partner-api (REGIONAL): live rules" })).toBeVisible();
  await admin.goto("/");
  await expect(admin.getByTestId("drift")).toContainText("partner-api (REGIONAL)");
  await expect(admin.getByTestId("drift")).toContainText("Gatehouse settings");
});

test("a role mapping approved by a second admin takes effect at the next sign-in, and rolls back the same way", async ({
  browser,
}) => {
  test.setTimeout(120_000);
  const roles = async (page: Page) => (await (await page.request.get("/api/v1/me")).json()).roles;
  const before = await person(browser, "viewer");
  expect(await roles(before)).toEqual(["viewer"]);

  const admin = await person(browser, "admin", "/settings");
  const admin2 = await person(browser, "admin2");
  const editorGroup = admin.getByLabel("Group for the editor role");
  await expect(editorGroup).toHaveValue("gatehouse-editors");
  await editorGroup.fill("gatehouse-viewers");
  await admin.getByRole("button", { name: "Propose roles and approvals" }).click();
  await expect(admin.getByRole("status").filter({ hasText: "Roles and approvals" })).toBeVisible();
  const url = await submitDraft(admin);
  await expect(admin.getByText("group for the editor role: gatehouse-editors → gatehouse-viewers")).toBeVisible();
  await selfApprovalIsRefused(admin);
  await approveAndApply(admin2, url);

  // The people in gatehouse-viewers are editors from their next sign-in.
  const after = await person(browser, "viewer");
  expect(await roles(after)).toEqual(["viewer", "editor"]);

  // Rolled back by a change request of admin2's, approved by admin.
  await step(admin2, "Roll back: restore the state before this change", "restoring the settings before this one");
  await admin2.getByRole("link", { name: "Open it" }).click();
  await expect(admin2).toHaveURL(/\/reviews\//);
  await approveAndApply(admin, admin2.url());
  const restored = await person(browser, "viewer");
  expect(await roles(restored)).toEqual(["viewer"]);
  const editor = await person(browser, "editor");
  expect(await roles(editor)).toEqual(["viewer", "editor"]);
});
