import { expect, test } from "@playwright/test";
import { person, step } from "./auth";

test("an editor proposes a /login rule from an analysis and gets a valid draft with the analysis attached", async ({ browser }) => {
  const editor = await person(browser, "editor", "/traffic");
  await editor.getByLabel("URI", { exact: true }).fill("/login");
  await editor.getByLabel("Method").fill("POST");
  await editor.getByRole("button", { name: "Analyse" }).click();
  await expect(editor).toHaveURL(/uri=%2Flogin|uri=\/login/);
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
  await step(editor, "Submit for review", "Submitted for review");
});

test("a viewer is not offered Propose rule", async ({ browser }) => {
  const viewer = await person(browser, "viewer", "/traffic");
  await expect(viewer.getByTestId("recommended")).toBeVisible();
  await expect(viewer.getByRole("button", { name: "Propose rule" })).toHaveCount(0);
});
