import { expect, test, type Browser } from "@playwright/test";
import { hydrated, person as personAt, step } from "./auth";
import { dynamodb } from "./aws";


const person = (browser: Browser, username: string, path = "/policies") => personAt(browser, username, path);

test("the live mappings in words, the simulator in the browser and the matrix", async ({ browser }) => {
  const viewer = await person(browser, "viewer");
  const mappings = viewer.getByTestId("mapping");
  await expect(mappings).toHaveCount(3);
  const vet = viewer.locator('[data-group="pet-veterinarian"]');
  await expect(vet.getByTestId("summary")).toHaveText(
    "Allows every method under /petstore/v1/ and GET /petstore/v2/status, only from 192.0.2.0/24 or 198.51.100.0/24",
  );
  await expect(vet).toContainText("stored as a DynamoDB map");
  await expect(viewer.locator('[data-group="pet-owner"]')).toContainText("stored as a JSON string");
  await expect(viewer.getByRole("button", { name: /^Edit / }), "a viewer does not edit").toHaveCount(0);

  // Every decision below is made in the browser: no request leaves it.
  const asked: string[] = [];
  viewer.on("request", (r) => asked.push(r.url()));
  const sim = viewer.getByTestId("simulator");
  await sim.getByLabel("pet-owner").uncheck();
  await sim.getByLabel("pet-veterinarian").check();
  await sim.getByLabel("Path").fill("/petstore/v2/status");
  await sim.getByLabel("Source IP").fill("198.51.100.7");
  await expect(sim.getByTestId("decision-label")).toHaveText("Allow");
  await expect(sim.getByTestId("decision")).toContainText("Decided by statement 0 of group pet-veterinarian.");
  await expect(sim.getByTestId("condition-note")).toBeVisible();
  await expect(sim.getByTestId("authorizer-output")).toContainText('"principalId": "simulated-caller"');
  await sim.getByLabel("Source IP").fill("203.0.113.9");
  await expect(sim.getByTestId("decision-label")).toHaveText("Implicit deny");
  await expect(sim.getByTestId("decision")).toContainText("aws:SourceIp");
  await sim.getByLabel("Source IP").fill("192.0.2.1");
  await sim.getByLabel("Method").selectOption("POST");
  await expect(sim.getByTestId("decision-label")).toHaveText("Implicit deny");
  await sim.getByLabel("Path").fill("/petstore/v1/pets");
  await expect(sim.getByTestId("decision-label")).toHaveText("Allow");
  await sim.getByLabel("pet-owner").check();
  await sim.getByLabel("Method").selectOption("DELETE");
  await sim.getByLabel("Path").fill("/petstore/v1/pets/7");
  await expect(sim.getByTestId("decision-label")).toHaveText("Explicit deny");
  await expect(sim.getByTestId("decision")).toContainText('Decided by statement "NeverDelete" of group pet-owner.');
  expect(asked, "the simulator asked the server nothing").toEqual([]);

  // The matrix: the demo endpoints, then an OpenAPI document's.
  const matrix = viewer.getByTestId("matrix");
  const ownerRow = matrix.getByRole("row", { name: /^pet-owner/ });
  await expect(ownerRow.getByRole("cell").nth(0)).toHaveText("Allow");
  await expect(ownerRow.getByRole("cell").nth(2)).toHaveText("Deny (explicit)");
  const openapi = {
    openapi: "3.0.1",
    info: { title: "pets", version: "1" },
    paths: { "/petstore/v1/pets": { get: { responses: {} } }, "/petstore/v2/status": { get: { responses: {} } } },
  };
  await matrix.getByTestId("openapi").setInputFiles({
    name: "pets.json",
    mimeType: "application/json",
    buffer: Buffer.from(JSON.stringify(openapi)),
  });
  await expect(matrix.getByRole("columnheader")).toHaveText(["Group", "GET /petstore/v1/pets", "GET /petstore/v2/status"]);
  await expect(matrix.getByRole("row", { name: /^pet-veterinarian/ }).getByRole("cell")).toHaveText(["Allow (condition)", "Allow (condition)"]);
  await matrix.getByTestId("openapi").setInputFiles({ name: "bad.json", mimeType: "application/json", buffer: Buffer.from("{}") });
  await expect(matrix.getByRole("alert")).toContainText("not an OpenAPI 3 document");
});

test("an editor's policy change: findings as typed, the matrix cells it moves as evidence, applied in DynamoDB", async ({ browser }) => {
  const editor = await person(browser, "editor");
  await editor.getByRole("button", { name: "Edit pet-owner" }).click();
  const policy = editor.getByLabel("Policy document (JSON)");
  await expect(policy).toHaveValue(/NeverDelete/);
  await policy.fill("{");
  await expect(editor.getByTestId("editor-findings")).toContainText("INVALID_JSON");
  await policy.fill(
    JSON.stringify({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "ReadAndDeletePets",
          Effect: "Allow",
          Action: "execute-api:Invoke",
          Resource: [
            "arn:aws:execute-api:*:*:*/*/GET/petstore/v1/pets",
            "arn:aws:execute-api:*:*:*/*/GET/petstore/v1/pets/*",
            "arn:aws:execute-api:*:*:*/*/DELETE/petstore/v1/pets/*",
          ],
        },
      ],
    }),
  );
  await expect(editor.getByTestId("editor-findings")).toContainText("No findings.");
  await editor.getByRole("button", { name: "Save to my draft" }).click();
  await expect(editor.getByRole("status").filter({ hasText: "The policy of pet-owner is in your draft." })).toBeVisible();

  const matrix = editor.getByTestId("matrix");
  await expect(matrix.getByTestId("matrix-changes")).toHaveText("Your draft changes 1 cell (highlighted: live → draft).");
  await expect(matrix.locator("td.changed")).toHaveText(["Deny (explicit) → Allow"]);
  await matrix.getByRole("button", { name: "Attach these cells to my draft's change request" }).click();
  await expect(matrix.getByRole("status")).toContainText("Evidence attached.");
  await matrix.getByRole("link", { name: "Open its review" }).click();
  await expect(editor).toHaveURL(/\/reviews\//);
  await hydrated(editor);
  await expect(editor.getByTestId("change-words")).toContainText("group pet-owner:");
  const evidence = editor.getByTestId("matrix-evidence");
  await expect(evidence).toContainText("DELETE /petstore/v1/pets/1");
  await expect(evidence.locator("td.changed")).toHaveText(["Allow"]);
  await step(editor, "Submit for review", "Submitted for review");
  const link = editor.url();

  const approver = await person(browser, "approver", link);
  await expect(approver.getByTestId("matrix-evidence")).toContainText("pet-owner");
  await step(approver, "Approve", "Approved");
  await step(approver, "Apply to DynamoDB", "DynamoDB holds the new mappings");
  await expect(approver.getByTestId("change-status")).toHaveText("Applied");

  // Written back as the JSON string it was read as.
  const { Item } = await dynamodb("GetItem", {
    TableName: "auth-policy-store",
    Key: { group: { S: "pet-owner" } },
    ConsistentRead: true,
  });
  expect(JSON.parse(Item.policy.S).Statement[0].Sid).toBe("ReadAndDeletePets");

  await approver.goto("/policies");
  await hydrated(approver);
  await expect(approver.locator('[data-group="pet-owner"]').getByTestId("summary")).toContainText("DELETE under /petstore/v1/pets/");
});
