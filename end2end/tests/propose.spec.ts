import { expect, test } from "@playwright/test";
import { hydrated, person, step } from "./auth";

test("an editor proposes a /login rule from an analysis, reviews it with the analysis and the replay attached", async ({ browser }) => {
  const editor = await person(browser, "editor", "/traffic");
  // The default analysis is based on healthy traffic and says what it left out.
  await expect(editor.getByTestId("left-out")).toContainText("labelled as from known-bad sources");
  await expect(editor.getByTestId("left-out")).toContainText("WAF blocked");
  await editor.getByRole("form", { name: "Analysis" }).getByLabel("Web ACL").selectOption("shop");
  await editor.getByLabel("URI", { exact: true }).fill("/login");
  await editor.getByLabel("Method").fill("POST");
  await editor.getByRole("button", { name: "Analyse" }).click();
  await expect(editor).toHaveURL(/uri=%2Flogin|uri=\/login/);
  await expect(editor).toHaveURL(/web_acl=shop/);
  await expect(editor.getByTestId("share-link")).toContainText("web_acl=shop");
  const recommended = (await editor.getByTestId("recommended").textContent())!.trim();

  const propose = editor.getByTestId("propose");
  await propose.getByLabel("Web ACL").selectOption("REGIONAL/shop");
  await propose.getByRole("button", { name: "Propose rule" }).click();
  const proposed = editor.getByTestId("proposed");
  await expect(proposed).toContainText("Draft saved with the analysis attached");
  await expect(proposed).toContainText(`at most ${recommended} requests per 300 s`);

  await proposed.getByRole("link", { name: "its review" }).click();
  await expect(editor).toHaveURL(/\/reviews\//);
  await expect(editor.getByTestId("change-words")).toContainText("RateLimit-login");
  const evidence = editor.getByTestId("evidence");
  await expect(evidence).toContainText("Recommended limit");
  await expect(evidence).toContainText(recommended);
  // Live versus draft over the imported traffic: the new rule's lower limit
  // catches the brute force before the live /login rule does.
  const replay = editor.getByTestId("replay");
  await expect(replay.getByTestId("replay-table")).toContainText("RateLimit-login", { timeout: 20_000 });
  await expect(replay.getByTestId("replay-table")).toContainText("UriBasedRule");
  await expect(replay.getByTestId("replay-summary")).toContainText(/blocks [1-9]\d* more requests of [1-9]\d* keys/);
  await replay.getByText("Keys newly blocked").click();
  await expect(replay.getByTestId("newly-blocked")).toContainText("203.0.113.");
  // Opened by its link, the review (replay included) renders on the server and hydrates.
  await editor.reload();
  await hydrated(editor);
  await expect(editor.getByTestId("replay").getByTestId("replay-table")).toContainText("RateLimit-login");
  await step(editor, "Submit for review", "Submitted for review");
});

test("the dashboard shows each rate rule's threshold health, linked to its analysis", async ({ browser }) => {
  const viewer = await person(browser, "viewer", "/");
  const table = viewer.getByTestId("thresholds");
  await expect(table).toBeVisible({ timeout: 20_000 });
  for (const rule of ["UriBasedRule", "BlanketRule"]) {
    const row = table.getByRole("row").filter({ hasText: rule });
    await expect(row.getByTestId("verdict")).toHaveText("loose");
    await expect(row).toContainText("unreviewed");
  }
  const login = table.getByRole("row").filter({ hasText: "UriBasedRule" });
  await login.getByRole("link").first().click();
  await expect(viewer).toHaveURL(/\/traffic\?.*uri=\/login&uri_match=prefix/);
  await expect(viewer.getByTestId("recommended")).toBeVisible();
});

test("a viewer is not offered Propose rule", async ({ browser }) => {
  const viewer = await person(browser, "viewer", "/traffic");
  await expect(viewer.getByTestId("recommended")).toBeVisible();
  await expect(viewer.getByRole("button", { name: "Propose rule" })).toHaveCount(0);
});
