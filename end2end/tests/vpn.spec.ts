import { expect, test, type Browser, type Page } from "@playwright/test";
import { hydrated, person as personAt, step } from "./auth";

async function testIp(page: Page, ip: string) {
  const panel = page.getByTestId("test-ip");
  await panel.getByLabel("Public IPv4 or IPv6 address").fill(ip);
  await panel.getByRole("button", { name: "Test" }).click();
  await expect(panel.getByTestId("ip-result")).toContainText(ip);
  return panel;
}

const person = (browser: Browser, username: string, path = "/vpn-countries") => personAt(browser, username, path);

test("the live set, Test an IP and the deny policy check", async ({ browser }) => {
  const viewer = await person(browser, "viewer");
  const live = viewer.getByTestId("live-countries");
  await expect(live.getByRole("listitem")).toHaveCount(3);
  await expect(live).toContainText("Germany (DE)");
  await expect(live).toContainText("(US)");
  await expect(viewer.getByTestId("live-nat")).toContainText("198.51.100.10/32");
  await expect(viewer.getByRole("button", { name: "Save to my draft" }), "a viewer does not edit").toHaveCount(0);

  let panel = await testIp(viewer, "81.169.145.105");
  await expect(panel.getByTestId("ip-country")).toHaveText("Germany (DE)");
  await expect(panel.getByTestId("ip-action")).toHaveText("ALLOW");
  await expect(panel.getByTestId("handler-answer")).toContainText('"allow": true');
  await expect(panel.getByTestId("handler-answer")).toContainText('"schema-version": "v1"');
  panel = await testIp(viewer, "193.0.6.139");
  await expect(panel.getByTestId("ip-country")).toContainText("(NL)");
  await expect(panel.getByTestId("ip-action")).toHaveText("BLOCK");
  await expect(panel.getByTestId("handler-answer")).toContainText('"quarantined"');
  panel = await testIp(viewer, "10.0.0.7");
  await expect(panel.getByTestId("ip-country")).toHaveText("not located: a private address");
  await expect(panel).toContainText("CC BY 4.0");

  const deny = viewer.getByTestId("deny-check");
  await expect(deny.getByTestId("deny-answer")).toContainText("Denied");
  await deny.getByLabel("Source IP").fill("198.51.100.11");
  await expect(deny.getByTestId("deny-answer")).toContainText("Not denied");
  await deny.getByLabel("Source IP").fill("203.0.113.9");
  await deny.getByLabel("Through an AWS service").check();
  await expect(deny.getByTestId("deny-answer")).toContainText("Not denied");
});

test("an editor adds a country, removes one and adds a NAT address; an approver applies it", async ({ browser }) => {
  const editor = await person(browser, "editor");
  const picker = editor.getByLabel("Find a country by name or code");
  await picker.fill("nether");
  await editor.getByTestId("country-matches").getByRole("button", { name: /^Add Netherlands/ }).click();
  const chosen = editor.getByTestId("chosen-countries");
  await expect(chosen).toContainText("(NL)");
  await chosen.getByRole("button", { name: /^Remove United Kingdom/ }).click();
  await expect(chosen.getByRole("listitem")).toHaveCount(3);
  await editor
    .getByLabel(/NAT gateway addresses/)
    .fill("198.51.100.10/32\n198.51.100.11/32\n198.51.100.12");
  await editor.getByRole("button", { name: "Save to my draft" }).click();
  await expect(editor.getByRole("status").filter({ hasText: "are in your draft" })).toBeVisible();
  await editor.getByRole("status").getByRole("link", { name: "Open its review" }).click();
  await expect(editor).toHaveURL(/\/reviews\//);
  await hydrated(editor);
  const words = editor.getByTestId("change-words");
  await expect(words).toContainText("countries: + NL");
  await expect(words).toContainText("− GB");
  await expect(words).toContainText("NAT addresses: + 198.51.100.12/32");
  await step(editor, "Submit for review", "Submitted for review");
  const link = editor.url();

  const approver = await person(browser, "approver", link);
  await step(approver, "Approve", "Approved");
  await step(approver, "Apply to AWS, part by part", "the geo web ACL and the deny policy hold the new set");
  await expect(approver.getByTestId("change-status")).toHaveText("Applied");

  await approver.goto("/vpn-countries");
  await hydrated(approver);
  await expect(approver.getByTestId("live-countries")).toContainText("(NL)");
  await expect(approver.getByTestId("live-countries")).not.toContainText("(GB)");
  await expect(approver.getByTestId("live-nat")).toContainText("198.51.100.12/32");
  await expect(approver.getByTestId("deny-policy")).toContainText("198.51.100.12/32");
  const panel = await testIp(approver, "193.0.6.139");
  await expect(panel.getByTestId("ip-action")).toHaveText("ALLOW");
});
