/**
 * The sweep pages in Chromium against the built dashboard over an embedded store holding a sweep
 * as `selfsup sweep` leaves one (test/sweep-seed.ts): the sweeps list, then the sweep page's
 * parallel coordinates (a line per scored trial; brushing the metric axis filters the trials
 * table), scatter per parameter, importance, learning curves drawn on uPlot's canvas with their
 * bands, the best configuration and "copy as config", and the runs table filtered by the sweep's tag.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { openStore } from "@selfsup/store";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APP_DIR, assertBuilt, type Dashboard, startDashboard } from "./server";
import { seedSweep } from "./sweep-seed";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = path.join(APP_DIR, "artifacts");
const haveChromium = existsSync(CHROMIUM);

describe.skipIf(!haveChromium)("sweep pages in a real browser", () => {
  let home: string;
  let server: Dashboard | undefined;
  let browser: Browser;
  let page: Page;
  let sweep: { id: string; name: string };

  beforeAll(async () => {
    assertBuilt();
    mkdirSync(SHOTS, { recursive: true });
    home = mkdtempSync(path.join(tmpdir(), "selfsup-sweep-e2e-"));
    const store = await openStore({ dataDir: path.join(home, "db") });
    try {
      sweep = await seedSweep(store, "lr-and-temperature");
    } finally {
      await store.close();
    }
    server = await startDashboard({ SELFSUP_HOME: home });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run"],
    });
    const context = await browser.newContext({
      viewport: { width: 1366, height: 900 },
      colorScheme: "light",
    });
    await context.grantPermissions(["clipboard-read", "clipboard-write"]).catch(() => {});
    page = await context.newPage();
    page.on("pageerror", (e) => console.error("[browser]", e.message));
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("lists the sweep and shows its page with every plot", async () => {
    await page.goto(`${server?.url}/sweeps`);
    const row = page.locator(`tr[data-sweep="${sweep.name}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain("5 completed");
    await row.getByRole("link").click();
    await page.waitForURL(/\/sweeps\//);
    await page.locator(".sweep-page").waitFor();

    // parallel coordinates: one line per scored trial (8), two parameter axes + the metric
    const lines = page.locator("svg.parallel-coords polyline.pc-line");
    await expect.poll(() => lines.count()).toBe(8);
    expect(await page.locator("svg.parallel-coords g.pc-axis").count()).toBe(3);
    expect(await page.locator("svg.parallel-coords polyline[stroke-dasharray]").count()).toBe(3); // pruned dashed

    // scatter per parameter, importance rows, best configuration
    expect(await page.locator("figure.param-scatter").count()).toBe(2);
    expect(await page.locator("figure.param-scatter circle.scatter-dot").count()).toBe(16);
    expect(await page.locator("table.importance tbody tr").count()).toBe(2);
    expect(await page.locator(".sweep-best").getAttribute("data-best")).toBe("7");

    // learning curves: uPlot drew on its canvas (some non-transparent pixels) with a legend per config
    const curves = page.locator(".sweep-curves");
    await curves.locator("canvas").first().waitFor();
    expect(await curves.getAttribute("data-curves")).toBe("5");
    const painted = await page.evaluate(() => {
      const c = document.querySelector<HTMLCanvasElement>(".sweep-curves canvas");
      const ctx = c?.getContext("2d");
      if (!c || !ctx) return 0;
      const { data } = ctx.getImageData(0, 0, c.width, c.height);
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if ((data[i] as number) > 0) n++;
      return n;
    });
    expect(painted).toBeGreaterThan(500);
    await page.screenshot({ path: path.join(SHOTS, "sweep.png"), fullPage: true });

    // a pruned trial's value says the epoch it stopped at; a completed one's does not
    const prunedCells = await page
      .locator('table.trials tr[data-status="pruned"] td.num')
      .evaluateAll((tds) => tds.map((td) => td.textContent ?? ""));
    expect(prunedCells.filter((t) => t.includes("(epoch 1)"))).toHaveLength(3);
    const completedCells = await page
      .locator('table.trials tr[data-status="completed"] td.num')
      .evaluateAll((tds) => tds.map((td) => td.textContent ?? ""));
    expect(completedCells.some((t) => t.includes("(epoch"))).toBe(false);

    // brush the metric axis's top third: only the best trials stay in the table
    expect(await page.locator("table.trials").getAttribute("data-rows")).toBe("8");
    const hit = page.locator('rect.pc-hit[data-axis="__metric"]');
    const box = await hit.boundingBox();
    if (!box) throw new Error("no metric axis");
    await page.mouse.move(box.x + box.width / 2, box.y + 8);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.3, { steps: 5 });
    await page.mouse.up();
    await expect
      .poll(async () => Number(await page.locator("table.trials").getAttribute("data-rows")))
      .toBeLessThan(8);
    const kept = await page
      .locator("table.trials tbody tr")
      .evaluateAll((rows) => rows.map((r) => Number(r.getAttribute("data-trial"))));
    expect(kept.length).toBeGreaterThan(0);
    expect(Math.min(...kept)).toBeGreaterThanOrEqual(4); // the metric rises with the trial index
    expect(kept).toContain(7); // the brush from the top includes the best
    expect(await page.locator('polyline.pc-line[data-active="0"]').count()).toBe(8 - kept.length);
    await page.screenshot({ path: path.join(SHOTS, "sweep-brushed.png"), fullPage: true });

    // copy as config shows the best trial's run config
    await page.locator('[data-action="copy-config"]').click();
    const text = await page.locator("pre.config-text").textContent();
    expect(JSON.parse(text ?? "{}")).toMatchObject({ method: { name: "simclr" }, training: { epochs: 3 } });

    // the sweep's runs in the runs table, by its tag
    await page.getByRole("link", { name: "its runs" }).click();
    await page.waitForURL(/tag=sweep/);
    await page.getByTestId("run-count").filter({ hasText: "16 runs" }).waitFor();
  });
});
