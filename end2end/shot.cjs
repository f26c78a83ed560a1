const { chromium } = require("@playwright/test");
(async () => {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu"] });
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  const base = process.env.GATEHOUSE_URL;
  await page.goto(base + "/sign-in?next=" + encodeURIComponent(process.argv[2]));
  await page.getByLabel("Username").fill(process.argv[4] || "editor");
  await page.getByLabel("Password").fill("Gatehouse-demo-1");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForTimeout(1500);
  await page.goto(base + process.argv[2]);
  await page.locator("html[data-hydrated=true]").waitFor({ state: "attached" });
  await page.waitForTimeout(500);
  await page.screenshot({ path: process.argv[3], fullPage: true });
  await browser.close();
})();
