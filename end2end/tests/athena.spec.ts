import { expect, test } from "@playwright/test";
import { person, step } from "./auth";
import { motoApi } from "./aws";

// The demo's Athena source, in the emulator: its Athena runs no SQL, so the
// rows a query returns are queued beforehand (as Athena would return them
// for the statement Gatehouse sends: a header row, then values as text), and
// the emulator's state manager holds a query queued until the test lets it
// finish.
const REGION = process.env.AWS_REGION ?? "us-east-1";
const FROM = "2026-11-29T00:00:00Z";
const T0 = Date.parse(FROM) / 1000;

const COUNT_COLUMNS = [
  "total_row", "key", "uri", "window_start", "requests", "top_rank", "busiest_rank",
  "peak", "keys_with_peak", "healthy_peak", "keys_with_healthy_peak", "excluded_time", "blocked", "labelled",
];
const WHAT_IF_COLUMNS = ["window_start", "keys", "requests", "new_keys"];

type Cell = string | number | null;

function resultSet(columns: string[], rows: Cell[][]) {
  const data = (values: Cell[]) => ({
    Data: values.map((v) => (v === null ? {} : { VarCharValue: String(v) })),
  });
  return {
    rows: [data(columns), ...rows.map(data)],
    column_info: columns.map((name) => ({
      CatalogName: "hive", SchemaName: "", TableName: "", Name: name, Label: name,
      Type: "varchar", Precision: 0, Scale: 0, Nullable: "UNKNOWN", CaseSensitive: false,
    })),
  };
}

/** What Athena answers for the analysis (a flood from one address, fifty ordinary keys) and then its what-if. */
async function queueAnswers() {
  const counts = resultSet(COUNT_COLUMNS, [
    [0, "198.51.100.23", null, T0 + 3600, 4200, 1, 1, 4200, 1, null, null, null, null, null],
    [0, "192.0.2.44", null, T0 + 7200, 40, 2, 2, 40, 1, 40, 1, null, null, null],
    [0, "192.0.2.45", null, T0 + 7200, 30, 3, 3, 30, 50, 30, 50, null, null, null],
    [1, null, null, T0 + 3600, 5000, null, null, null, null, null, null, 0, 4200, 0],
    [1, null, null, T0 + 7200, 1540, null, null, null, null, null, null, 0, 0, 0],
  ]);
  const whatIf = resultSet(WHAT_IF_COLUMNS, [[T0 + 3600, 1, 4150, 1]]);
  await motoApi("/moto-api/static/athena/query-results", {
    account_id: "123456789012",
    region: REGION,
    results: [counts, whatIf],
  });
}

/** Holds every query queued (`hold`), or lets them all finish at once. */
async function athenaQueries(hold: boolean) {
  const transition = hold ? { progression: "manual", times: 1_000_000 } : { progression: "immediate" };
  await motoApi("/moto-api/state-manager/set-transition", { model_name: "athena::execution", transition });
}

/** An analysis of the demo's Athena source no earlier run has asked (its own URI). */
function question(name: string) {
  const uri = `/e2e-${name}-${Date.now()}`;
  return `/traffic?source=athena-demo&from=${FROM}&to=2026-11-30T00:00:00Z&window=300&by=ip&uri=${encodeURIComponent(uri)}&uri_match=prefix`;
}

test.afterEach(async () => {
  await athenaQueries(false);
});

test("an analysis runs on Athena with its progress and cost, draws Athena's rows, is shared without running again, and proposes a rule", async ({
  browser,
}) => {
  test.setTimeout(90_000);
  await athenaQueries(true);
  const link = question("flood");
  const editor = await person(browser, "editor", link);
  const athena = editor.getByTestId("athena");
  await expect(athena).toContainText("Amazon Athena: athena-demo");
  await expect(athena.getByRole("note")).toContainText("emulator");
  await expect(editor.getByTestId("top-table")).toHaveCount(0);

  await queueAnswers();
  await athena.getByRole("button", { name: "Run on Athena" }).click();
  const run = athena.getByTestId("athena-analysis");
  await expect(run.getByTestId("athena-state")).toHaveText("queued");
  await expect(run).toContainText("MB scanned");
  await expect(run).toContainText("/TB");
  await expect(run).toContainText("started by editor");
  await expect(run.getByRole("button", { name: "Cancel" })).toBeVisible();

  // Athena finishes: the page, refreshing while it runs, draws the rows.
  await athenaQueries(false);
  await expect(run.getByTestId("athena-state")).toHaveText("succeeded", { timeout: 15_000 });
  await expect(athena.getByTestId("athena-what-if").getByTestId("athena-state")).toHaveText("succeeded", {
    timeout: 15_000,
  });
  const first = editor.getByTestId("top-table").locator("tbody tr").first();
  await expect(first).toContainText("198.51.100.23");
  await expect(first).toContainText("4200");
  await expect(editor.getByRole("region", { name: "Charts" }).locator("figure svg")).toHaveCount(3);
  await expect(editor.getByRole("region", { name: "Charts" })).toContainText("198.51.100.23");
  const recommended = (await editor.getByTestId("recommended").textContent())!.trim();
  expect(Number(recommended)).toBeGreaterThanOrEqual(40);
  await expect(athena.getByRole("button", { name: "Run again" })).toBeVisible();

  // Shared: someone else opens the link and reads the kept rows; nothing runs again.
  const shared = (await editor.getByTestId("share-link").getAttribute("href"))!;
  expect(shared).toContain("source=athena-demo");
  const approver = await person(browser, "approver", shared);
  const kept = approver.getByTestId("athena");
  await expect(kept.getByTestId("athena-analysis")).toContainText("started by editor");
  await expect(kept.getByRole("button", { name: "Run on Athena" })).toHaveCount(0);
  await expect(approver.getByTestId("top-table").locator("tbody tr").first()).toContainText("198.51.100.23");
  await expect(approver.getByTestId("recommended")).toHaveText(recommended);

  // The recommendation proposes a rule, the Athena analysis as its evidence.
  const propose = editor.getByTestId("propose");
  await propose.getByLabel("Web ACL").selectOption("REGIONAL/shop");
  await propose.getByRole("button", { name: "Propose rule" }).click();
  const proposed = editor.getByTestId("proposed");
  await expect(proposed).toContainText("Draft saved with the analysis attached");
  await expect(proposed).toContainText(`at most ${recommended} requests per 300 s`);
  await proposed.getByRole("link", { name: "its review" }).click();
  await expect(editor).toHaveURL(/\/reviews\//);
  const evidence = editor.getByTestId("evidence");
  await expect(evidence).toContainText("on Amazon Athena, log source athena-demo");
  await expect(evidence).toContainText(`Recommended limit ${recommended}`);
  await expect(editor.getByTestId("replay")).toContainText("reads only the logs imported into PostgreSQL");
  await step(editor, "Submit for review", "Submitted for review");
});

test("a query on Athena can be cancelled from the page, and says so", async ({ browser }) => {
  await athenaQueries(true);
  const editor = await person(browser, "editor", question("cancel"));
  const athena = editor.getByTestId("athena");
  await athena.getByRole("button", { name: "Run on Athena" }).click();
  const run = athena.getByTestId("athena-analysis");
  await expect(run.getByTestId("athena-state")).toHaveText("queued");
  await run.getByRole("button", { name: "Cancel" }).click();
  await expect(run.getByTestId("athena-state")).toHaveText("cancelled");
  await expect(run.getByRole("button", { name: "Cancel" })).toHaveCount(0);
  await expect(editor.getByTestId("top-table")).toHaveCount(0);
  await expect(athena.getByRole("button", { name: "Run again" })).toBeVisible();
});

test("a link naming a log source that is not registered says so and keeps the form", async ({ browser }) => {
  const viewer = await person(browser, "viewer", "/traffic?source=no-such-source");
  await expect(viewer.getByRole("alert")).toContainText('no log source is registered as "no-such-source"');
  await expect(viewer.getByRole("button", { name: "Analyse" })).toBeVisible();
});

test("an admin registers an Athena source whose table Gatehouse makes; the statement is read before a second admin approves it", async ({
  browser,
}) => {
  test.setTimeout(90_000);
  const admin = await person(browser, "admin", "/settings");
  const form = admin.getByRole("form", { name: "Athena log source" });
  await form.getByLabel("Name", { exact: true }).fill("shop-athena");
  await form.getByLabel("Glue database").fill("shop_waf");
  await form.getByLabel("Table", { exact: true }).fill("shop_logs");
  await form.getByLabel("Web ACL(s) whose logs it holds").fill("shop");
  await form.getByLabel("Account", { exact: true }).fill("123456789012");
  await form.getByLabel(/^Query results location/).fill("s3://gatehouse-demo-athena-results/");
  await form.getByLabel(/^Make the partition-projected WAF log table/).check();
  await form.getByLabel("Bucket WAF delivers the logs to").fill("shop-waf-logs");
  await form.getByLabel("First day of logs").fill("2026/11/01");
  await form.getByRole("button", { name: "Check and add Athena source" }).click();
  await expect(admin.getByRole("status").filter({ hasText: "Checked and added" })).toContainText("log source shop-athena");
  // The statement is in the change, to be read before anything is made.
  const pending = admin.getByTestId("pending");
  await expect(pending).toContainText("CREATE EXTERNAL TABLE `shop_waf`.`shop_logs`");
  await expect(pending).toContainText("'projection.date.range' = '2026/11/01,NOW'");
  await expect(pending).toContainText("s3://shop-waf-logs/AWSLogs/123456789012/WAFLogs/${region}/shop/${date}/");

  await pending.getByRole("link", { name: "Draft change request" }).click();
  await expect(admin).toHaveURL(/\/reviews\//);
  await expect(admin.getByTestId("change-words")).toContainText("CREATE EXTERNAL TABLE `shop_waf`.`shop_logs`");
  await step(admin, "Submit for review", "Submitted for review");
  const admin2 = await person(browser, "admin2", admin.url());
  await step(admin2, "Approve", "Approved");
  await step(admin2, "Apply the settings", "Applied");

  await admin.goto("/settings");
  await expect(admin.getByTestId("managed")).toContainText("log source shop-athena");
  await expect(admin.getByTestId("managed")).toContainText("the table made by Gatehouse");
  await expect(admin.getByTestId("iam-policy")).toContainText("table/shop_waf/shop_logs");
  await admin.goto("/traffic");
  await expect(admin.getByLabel("Logs from").locator("option", { hasText: "shop-athena" })).toHaveCount(1);
});
