/**
 * End to end in a real browser: Debian's chromium driven by playwright-core against the BUILT
 * dashboard (`next start` on 127.0.0.1) over a seeded embedded store. Screenshots go to
 * artifacts/ (gitignored).
 *
 * Phase 1, open on loopback: runs table (virtualized, filter, search, keyboard), run page (charts
 * drawn, evaluations, artifacts; live update while another process writes), compare (overlay, config diff), leaderboard, methods, dark mode,
 * a tag added after logging in with the team token; a second server on the same directory reads
 * through the first (the store's sharing) and takes over when the first exits. Phase 2, same data with SELFSUP_AUTH=required: login flow, 401s,
 * read-only token cannot mutate.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { openStore, type Run } from "@selfsup/store";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { seedBulk, seedDemo } from "../scripts/seed.mjs";
import { APP_DIR, assertBuilt, type Dashboard, startDashboard } from "./server";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = path.join(APP_DIR, "artifacts");
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`[e2e] skipped: no chromium at ${CHROMIUM} (set CHROMIUM_PATH)`);

const TEAM = "team-token-for-e2e-0123456789";
const READ = "read-token-for-e2e-9876543210";

let home: string;
let demo: Run[];
let server: Dashboard | undefined;
let browser: Browser;
let context: BrowserContext;
let page: Page;

async function gqlHttp(url: string, query: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/api/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query }),
  });
  return {
    status: res.status,
    body: (await res.json()) as {
      data?: Record<string, unknown>;
      errors?: Array<{ message: string; extensions?: { code?: string } }>;
    },
  };
}

const shot = (p: Page, name: string, fullPage = false) =>
  p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });

/** Pixels of a canvas close to an RGB colour (the series colour), i.e. actually drawn line. */
function countColouredPixels(p: Page, selector: string, rgb: [number, number, number]): Promise<number> {
  return p.evaluate(
    ({ selector, rgb }) => {
      let n = 0;
      for (const c of document.querySelectorAll<HTMLCanvasElement>(selector)) {
        const ctx = c.getContext("2d");
        if (!ctx) continue;
        const { data } = ctx.getImageData(0, 0, c.width, c.height);
        for (let i = 0; i < data.length; i += 4) {
          if (
            data[i + 3] > 100 &&
            Math.abs(data[i] - rgb[0]) < 40 &&
            Math.abs(data[i + 1] - rgb[1]) < 40 &&
            Math.abs(data[i + 2] - rgb[2]) < 40
          )
            n++;
        }
      }
      return n;
    },
    { selector, rgb },
  );
}

describe.skipIf(!haveChromium)("dashboard in a real browser", () => {
  beforeAll(async () => {
    assertBuilt();
    mkdirSync(SHOTS, { recursive: true });
    home = mkdtempSync(path.join(tmpdir(), "selfsup-e2e-"));
    const store = await openStore({ dataDir: path.join(home, "db") });
    try {
      demo = await seedDemo(store, { count: 24, withMetrics: 4, points: 2000 });
      await seedBulk(store, { runs: 400, points: 0, olderThanHours: 48 });
    } finally {
      await store.close();
    }
    server = await startDashboard({ SELFSUP_HOME: home, SELFSUP_TOKEN: TEAM, SELFSUP_READ_TOKEN: READ });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--headless",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    context = await browser.newContext({ viewport: { width: 1366, height: 800 }, colorScheme: "light" });
    page = await context.newPage();
    page.on("pageerror", (e) => console.error("[browser]", e.message));
  }, 300_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === "fail" && page) {
      await shot(page, `failed-${ctx.task.name.replace(/\W+/g, "-").slice(0, 60)}`).catch(() => {});
    }
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("shows the runs table, virtualized, newest first", async () => {
    await page.goto(`${server!.url}/`);
    await page.getByTestId("run-count").filter({ hasText: "424 runs" }).waitFor();
    const rows = page.locator("[data-run-id]");
    await rows.first().waitFor();
    expect(await rows.first().getAttribute("data-run-id")).toBe(demo[demo.length - 1].id);
    await expect.poll(() => rows.count()).toBeGreaterThan(15);
    expect(await rows.count()).toBeLessThan(80); // 100 loaded, only the visible ones in the DOM
    expect(await page.locator(".badge.running").count()).toBeGreaterThan(0);
    await shot(page, "runs");
    // Scrolling loads the next page.
    await page.getByTestId("runs-scroll").evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await page.getByText(/200 loaded/).waitFor();
  });

  it("filters by search and by a chip, and clears", async () => {
    await page.getByLabel("Search runs").fill("simclr");
    await page.waitForURL(/q=simclr/);
    await page
      .getByTestId("run-count")
      .filter({ hasText: /^\d+ runs?$/ })
      .waitFor();
    await expect
      .poll(async () => (await page.getByTestId("run-count").textContent()) ?? "")
      .not.toBe("424 runs");
    // The count and the rows are separate queries: wait for the rows too.
    await expect
      .poll(
        async () => new Set(await page.locator("[data-run-id] [role=cell]:nth-child(4)").allTextContents()),
      )
      .toEqual(new Set(["simclr"]));
    await page.getByText("Filter", { exact: true }).click();
    await page.getByLabel("Filter by dataset").selectOption("cifar10");
    await page.waitForURL(/dataset=cifar10/);
    await page.getByTestId("filter-chips").getByText("dataset: cifar10").waitFor();
    await expect
      .poll(
        async () => new Set(await page.locator("[data-run-id] [role=cell]:nth-child(5)").allTextContents()),
      )
      .toEqual(new Set(["cifar10"]));
    await page.keyboard.press("Escape");
    await shot(page, "runs-filtered");
    await page.getByRole("button", { name: "Clear all" }).click();
    await page.getByTestId("run-count").filter({ hasText: "424 runs" }).waitFor();
  });

  it("opens a run with its charts drawn, evaluations, artifacts and config", async () => {
    const run = demo[0];
    await page.goto(`${server!.url}/`);
    await page.getByLabel("Search runs").fill(run.name);
    await page.locator(`[data-run-id="${run.id}"]`).click();
    await page.waitForURL(new RegExp(`/runs/${run.id}`));
    await page.getByTestId("run-name").filter({ hasText: run.name }).waitFor();
    const loss = page.getByRole("region", { name: "Chart of loss" });
    await loss.getByTestId("chart").locator("canvas").first().waitFor();
    await expect
      .poll(async () => Number(await loss.getByTestId("chart").getAttribute("data-points")))
      .toBe(1000);
    await loss.getByText("1,000 buckets of 2,000 points").waitFor();
    // The loss line (#4e79a7) is really painted on the canvas.
    await expect
      .poll(() => countColouredPixels(page, "[aria-label='Chart of loss'] canvas", [78, 121, 167]))
      .toBeGreaterThan(300);
    const knn = page.getByRole("region", { name: "Chart of knn_top1" });
    await expect
      .poll(async () => Number(await knn.getByTestId("chart").getAttribute("data-points")))
      .toBe(21);
    expect(await page.getByTestId("evaluations").locator("tbody tr").count()).toBe(6);
    const img = page.getByTestId("artifact-image");
    await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth)).toBe(224);
    expect(Number(await page.getByTestId("scatter").getAttribute("data-points"))).toBe(600);
    await page.getByTestId("config").getByText("method.options.temperature").waitFor();
    await shot(page, "run", true);
    // Chart options: log scale, x axis by time.
    await page.getByLabel("log y").check();
    await page.getByLabel("x axis").selectOption("relative_time");
    // 2,000 steps 250 ms apart: about 500 s from the first point.
    await expect
      .poll(async () => Number(await loss.getByTestId("chart").getAttribute("data-x-max")))
      .toBeLessThan(600);
    expect(Number(await loss.getByTestId("chart").getAttribute("data-points"))).toBe(1000);
    await shot(page, "run-log-time");
  });

  it("updates the charts of a running run live, as a writer appends points through the dashboard's store", async () => {
    const running = demo[demo.length - 1];
    expect(running.status).toBe("running");
    await page.goto(`${server!.url}/runs/${running.id}`);
    await page.getByText("live · refreshing every 3 s").waitFor();
    const loss = page.getByRole("region", { name: "Chart of loss" }).getByTestId("chart");
    await expect.poll(async () => Number(await loss.getAttribute("data-points"))).toBe(800);
    // Another process (here: this test, like `selfsup train` would) writes through the host.
    const writer = await openStore({ dataDir: path.join(home, "db") });
    try {
      expect(writer.db.sharing?.role).toBe("client");
      await writer.appendMetrics(
        running.id,
        Array.from({ length: 150 }, (_, i) => ({ key: "loss", step: 800 + i, value: 0.5 + 0.001 * i })),
      );
    } finally {
      await writer.close();
    }
    await expect
      .poll(async () => Number(await loss.getAttribute("data-points")), { timeout: 15_000 })
      .toBe(950);
    await shot(page, "run-live");
  });

  it("colours the PCA scatter by class with a legend, and labels the point under the mouse", async () => {
    const run = demo[0];
    await page.goto(`${server!.url}/runs/${run.id}`);
    const scatter = page.getByTestId("scatter");
    await scatter.scrollIntoViewIfNeeded();
    // The runner's artifact shape ({points: [[x, y]], labels}): ten classes, not one "—".
    expect(Number(await scatter.getAttribute("data-classes"))).toBe(10);
    const legend = page.locator(".legend button");
    expect(await legend.allTextContents()).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    // Two classes really painted in their own colours (palette 0 #4e79a7 and 1 #f28e2b).
    await expect
      .poll(() => countColouredPixels(page, "[data-testid=scatter]", [78, 121, 167]))
      .toBeGreaterThan(30);
    await expect
      .poll(() => countColouredPixels(page, "[data-testid=scatter]", [242, 142, 43]))
      .toBeGreaterThan(30);
    // Hover: sweep the canvas until the mouse is on a point; the tooltip names its class.
    const box = (await scatter.boundingBox())!;
    const tip = page.getByTestId("scatter-tooltip");
    for (let i = 0; i < 40 && !(await tip.isVisible()); i++) {
      await page.mouse.move(box.x + box.width * (0.1 + 0.02 * i), box.y + box.height * 0.5);
    }
    await expect.poll(() => tip.textContent()).toMatch(/^class \d \u00b7 \(/);
    await shot(page, "scatter-hover");
  });

  it("draws a series of a single point as a visible marker", async () => {
    const run = demo[0];
    const writer = await openStore({ dataDir: path.join(home, "db") });
    try {
      await writer.appendMetrics(run.id, [{ key: "knn_once", step: 1500, value: 0.87 }]);
    } finally {
      await writer.close();
    }
    // The previous test just read this run: identical read-only queries may be answered from the
    // dashboard's reply cache for up to SELFSUP_QUERY_CACHE_MS (1 s), and a finished run's page does
    // not poll, so wait out the TTL for a write made by another process.
    await new Promise((r) => setTimeout(r, 1200));
    await page.goto(`${server!.url}/runs/${run.id}`);
    const once = page.getByRole("region", { name: "Chart of knn_once" });
    await expect
      .poll(async () => Number(await once.getByTestId("chart").getAttribute("data-points")))
      .toBe(1);
    await expect
      .poll(() => countColouredPixels(page, "[aria-label='Chart of knn_once'] canvas", [78, 121, 167]))
      .toBeGreaterThan(20);
    await shot(page, "single-point");
  });

  it("lists the files a skipBad dataset skipped on the run page, as text", async () => {
    const run = demo[3];
    const writer = await openStore({ dataDir: path.join(home, "db") });
    try {
      await writer.addArtifact({
        runId: run.id,
        kind: "data",
        name: "skipped-files.json",
        mime: "application/json",
        data: [
          {
            file: "/data/photos/<img src=x onerror=alert(1)>.jpg",
            reason: "a corrupt or truncated JPEG image",
          },
          { file: "/data/photos/empty.png", reason: "the file is empty (0 bytes)" },
        ],
      });
    } finally {
      await writer.close();
    }
    await page.goto(`${server!.url}/runs/${run.id}`);
    const section = page.getByTestId("skipped-files");
    await expect.poll(() => section.locator("h2").textContent()).toBe("Skipped files (2)");
    expect(await section.locator("tbody tr td:first-child").allTextContents()).toEqual([
      "/data/photos/<img src=x onerror=alert(1)>.jpg",
      "/data/photos/empty.png",
    ]);
    expect(await section.locator("img").count()).toBe(0); // shown as text, never as markup
  });

  it("groups the runs table by method with mean ± std of a summary metric", async () => {
    await page.goto(`${server!.url}/`);
    await page.getByText("Group", { exact: true }).click();
    await page.getByLabel("Group by", { exact: true }).selectOption("method");
    await page.getByLabel("Group metric").selectOption("knn_top1");
    const groups = page.getByTestId("run-groups");
    await expect.poll(() => groups.locator("tbody tr").count()).toBe(8);
    // The bulk runs: 50 per method, knn_top1 = 0.5 + (g % 1000) / 2000, so every group spreads.
    const simclr = groups.locator('tr[data-group="simclr"]');
    await expect.poll(() => simclr.getByTestId("group-mean").textContent()).toMatch(/^0\.\d+ ± 0\.\d+$/);
    expect(Number((await simclr.locator("td").first().textContent())?.split(" ")[0])).toBeGreaterThanOrEqual(
      50,
    );
    expect(page.url()).toContain("group=method");
    await shot(page, "runs-grouped");
  });

  it("exports the runs table as filtered, and a run's series, as CSV and JSON", async () => {
    await page.goto(`${server!.url}/?method=byol`);
    await page
      .getByTestId("run-count")
      .filter({ hasText: /^\d+ runs$/ })
      .waitFor();
    const count = Number((await page.getByTestId("run-count").textContent())?.split(" ")[0]);
    await page.getByText("Export", { exact: true }).click();
    const csvHref = await page.getByTestId("export-runs-csv").getAttribute("href");
    expect(csvHref).toContain("method=byol");
    // Fetched by the page, with its cookies, as a click would download it.
    const csv = await page.evaluate((h) => fetch(h!).then((r) => r.text()), csvHref);
    const lines = csv.trim().split("\r\n");
    expect(lines[0].split(",").slice(0, 3)).toEqual(["id", "name", "method"]);
    expect(lines.length).toBe(count + 1);
    expect(lines.slice(1).every((l) => l.split(",")[2] === "byol")).toBe(true);
    const jsonHref = await page.getByTestId("export-runs-json").getAttribute("href");
    const runs = await page.evaluate((h) => fetch(h!).then((r) => r.json()), jsonHref);
    expect(runs.length).toBe(count);
    const run = demo[0];
    await page.goto(`${server!.url}/runs/${run.id}`);
    const loss = page.getByRole("region", { name: "Chart of loss" });
    const seriesCsv = await page.evaluate(
      (h) => fetch(h!).then((r) => r.text()),
      await loss.getByTestId("export-series-csv").getAttribute("href"),
    );
    const rows = seriesCsv.trim().split("\r\n");
    expect(rows[0]).toBe("step,wall_time,value");
    expect(rows.length).toBe(2001); // every stored point, not the chart's 1,000 buckets
    const points = await page.evaluate(
      (h) => fetch(h!).then((r) => r.json()),
      await loss.getByTestId("export-series-json").getAttribute("href"),
    );
    expect(points.length).toBe(2000);
    expect(points[0]).toMatchObject({ step: 0 });
    expect(Number(rows[1].split(",")[2])).toBe(points[0].value);
  });

  it("selects two runs with the keyboard and compares them, with a config diff", async () => {
    await page.goto(`${server!.url}/?q=mnist-00`);
    const rows = page.locator("[data-run-id]");
    await expect.poll(() => rows.count()).toBe(8);
    // keys before hydration go nowhere (this failed once in CI on a loaded box)
    await page.locator("[data-testid=runs-scroll][data-hydrated]").waitFor();
    // Newest first: the last two rows are runs 001 and 000, which have curves.
    await rows.nth(6).focus();
    await page.keyboard.press("Space");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("Space");
    await expect.poll(() => page.locator("[data-run-id][aria-selected=true]").count()).toBe(2);
    await page.getByTestId("compare-selected").filter({ hasText: "Compare (2)" }).click();
    await page.waitForURL(/\/compare\?ids=/);
    await page.getByTestId("compare-legend").locator(".chip").nth(1).waitFor();
    const loss = page.getByRole("region", { name: "Chart of loss" });
    await expect
      .poll(async () => Number(await loss.getByTestId("chart").getAttribute("data-points")))
      .toBe(2000);
    await expect
      .poll(() => countColouredPixels(page, "[aria-label='Chart of loss'] canvas", [242, 142, 43]))
      .toBeGreaterThan(200);
    const diff = page.getByTestId("config-diff");
    await diff.locator("[data-path='method.name']").waitFor();
    const paths = await diff
      .locator("tbody tr")
      .evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-path")));
    expect(paths).toContain("seed");
    expect(paths).not.toContain("dataset.split");
    expect(paths).not.toContain("steps");
    await shot(page, "compare", true);
    await page.getByLabel("show identical entries too").check();
    await diff.locator("[data-path='dataset.split']").waitFor();
  });

  it("shows the leaderboard and the methods catalogue", async () => {
    await page.goto(`${server!.url}/leaderboard`);
    await page.waitForURL(/dataset=/);
    await expect
      .poll(() => page.getByTestId("leaderboard").first().locator("tbody tr").count())
      .toBeGreaterThan(3);
    await shot(page, "leaderboard");
    await page.goto(`${server!.url}/methods`);
    await page.getByRole("heading", { name: "Plugins" }).waitFor({ timeout: 60_000 });
    await page.getByText("@selfsup/core").first().waitFor();
    await shot(page, "methods");
  });

  it("follows the dark colour scheme and the toggle", async () => {
    const dark = await browser.newContext({ viewport: { width: 1366, height: 800 }, colorScheme: "dark" });
    const p = await dark.newPage();
    await p.goto(`${server!.url}/runs/${demo[1].id}`);
    await p
      .getByRole("region", { name: "Chart of loss" })
      .getByTestId("chart")
      .locator("canvas")
      .first()
      .waitFor();
    const bg = () => p.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(await bg()).toBe("rgb(15, 18, 22)");
    await shot(p, "run-dark");
    await p.getByRole("button", { name: /Switch to light theme/ }).click();
    expect(await bg()).toBe("rgb(255, 255, 255)");
    await p.reload();
    expect(await bg()).toBe("rgb(255, 255, 255)"); // remembered
    await dark.close();
  });

  it("lets the team token (login cookie) tag a run; anonymous loopback readers cannot", async () => {
    await page.goto(`${server!.url}/runs/${demo[2].id}`);
    await page.getByTestId("run-name").waitFor();
    expect(await page.getByLabel("New tag").count()).toBe(0);
    const anon = await gqlHttp(server!.url, `mutation { tagRun(id: "${demo[2].id}", add: ["x"]) { id } }`);
    expect(anon.body.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
    await page.goto(`${server!.url}/login?next=/runs/${demo[2].id}`);
    await page.getByLabel("Token").fill(TEAM);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(new RegExp(`/runs/${demo[2].id}$`));
    await page.getByLabel("New tag").fill("e2e-keeper");
    await page.getByRole("button", { name: "Add" }).click();
    await page.getByRole("button", { name: "Remove tag e2e-keeper" }).waitFor();
    await page.getByText("team token").waitFor();
  });

  it("shares the embedded store with a second process, and takes it over when the host exits", async () => {
    // The first dashboard hosts the PGlite directory (it opened it on its first request); a second
    // one reads through it.
    const first = await gqlHttp(server!.url, "{ storeInfo { role hostPid } }");
    expect(first.body.data).toEqual({ storeInfo: { role: "host", hostPid: server!.child.pid } });
    const second = await startDashboard({ SELFSUP_HOME: home });
    try {
      const viaSecond = await gqlHttp(second.url, "{ runCount storeInfo { driver role hostPid } }");
      expect(viaSecond.body.data).toEqual({
        runCount: 424,
        storeInfo: { driver: "pglite", role: "client", hostPid: server!.child.pid },
      });
      // The host goes away: the second dashboard reopens the directory and carries on as host.
      await server!.stop();
      await expect
        .poll(async () => (await gqlHttp(second.url, "{ runCount storeInfo { role } }")).body.data, {
          timeout: 60_000,
          interval: 500,
        })
        .toEqual({ runCount: 424, storeInfo: { role: "host" } });
    } finally {
      await second.stop();
    }
    server = undefined;
  });

  describe("with login required (SELFSUP_AUTH=required)", () => {
    beforeAll(async () => {
      await server?.stop(); // closes PGlite and releases the lock
      server = await startDashboard({
        SELFSUP_HOME: home,
        SELFSUP_TOKEN: TEAM,
        SELFSUP_READ_TOKEN: READ,
        SELFSUP_AUTH: "required",
      });
    }, 120_000);

    it("answers 401 to the API and redirects pages to /login", async () => {
      const anon = await gqlHttp(server!.url, "{ runCount }");
      expect(anon.status).toBe(401);
      expect(anon.body.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
      const wrong = await gqlHttp(server!.url, "{ runCount }", { authorization: "Bearer wrong" });
      expect(wrong.status).toBe(401);
      const page = await fetch(`${server!.url}/compare?ids=a`, { redirect: "manual" });
      expect(page.status).toBe(307);
      expect(page.headers.get("location")).toMatch(/\/login\?next=%2Fcompare%3Fids%3Da$/);
      const art = await fetch(`${server!.url}/api/artifacts/${demo[0].id}/augment-preview/views.png`);
      expect(art.status).toBe(401);
      const readOk = await gqlHttp(server!.url, "{ runCount viewer { role canMutate } }", {
        authorization: `Bearer ${READ}`,
      });
      expect(readOk.body.data).toEqual({ runCount: 424, viewer: { role: "READ", canMutate: false } });
      const readMut = await gqlHttp(
        server!.url,
        `mutation { setNote(id: "${demo[0].id}", note: "x") { id } }`,
        { authorization: `Bearer ${READ}` },
      );
      expect(readMut.body.errors?.[0].extensions?.code).toBe("FORBIDDEN");
      const teamMut = await gqlHttp(
        server!.url,
        `mutation { setNote(id: "${demo[0].id}", note: "from e2e") { notes } }`,
        { authorization: `Bearer ${TEAM}` },
      );
      expect(teamMut.body.data).toEqual({ setNote: { notes: "from e2e" } });
    });

    it("answers GraphQL POSTs before Next's router (scripts/start.mjs), with the same checks and headers", async () => {
      const url = `${server!.url}/api/graphql`;
      const auth = { authorization: `Bearer ${READ}`, "content-type": "application/json" };
      const body = JSON.stringify({ query: "{ runs(first: 50) { edges { node { id name config } } } }" });
      const ok = await fetch(url, { method: "POST", headers: { ...auth, "accept-encoding": "gzip" }, body });
      expect(ok.status).toBe(200);
      // Next's route replies vary on its router headers; the fast path's do not.
      expect(ok.headers.get("vary") ?? "").not.toMatch(/rsc/);
      expect(ok.headers.get("content-encoding")).toBe("gzip");
      expect(ok.headers.get("x-content-type-options")).toBe("nosniff");
      expect(ok.headers.get("x-frame-options")).toBe("DENY");
      expect(ok.headers.get("content-security-policy")).toMatch(/frame-ancestors 'none'/);
      const viaPost = (await ok.json()) as { data: { runs: { edges: unknown[] } } };
      expect(viaPost.data.runs.edges).toHaveLength(50);
      // GET goes through Next's route handler: the same answer.
      const viaGet = await fetch(
        `${url}?query=${encodeURIComponent("{ runs(first: 50) { edges { node { id name config } } } }")}`,
        {
          headers: { authorization: `Bearer ${READ}`, "apollo-require-preflight": "1" },
        },
      );
      expect(viaGet.status).toBe(200);
      expect(await viaGet.json()).toEqual(viaPost);
      // The reply cache now holds that reply: credentials are still checked before it answers.
      const cachedWrong = await fetch(url, {
        method: "POST",
        headers: { authorization: "Bearer wrong", "content-type": "application/json" },
        body,
      });
      expect(cachedWrong.status).toBe(401);
      expect(cachedWrong.headers.get("www-authenticate")).toMatch(/Bearer/);
      const code = async (r: Response) =>
        ((await r.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0].extensions.code;
      const malformed = await fetch(url, { method: "POST", headers: auth, body: "{" });
      expect(malformed.status).toBe(400);
      expect(await code(malformed)).toBe("BAD_REQUEST");
      const big = JSON.stringify({ query: `{ runCount } # ${"x".repeat(70 * 1024)}` });
      const declared = await fetch(url, { method: "POST", headers: auth, body: big });
      expect(declared.status).toBe(413);
      // Not declared (chunked): counted as it arrives.
      const chunked = await fetch(url, {
        method: "POST",
        headers: auth,
        body: new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode(big));
            c.close();
          },
        }),
        duplex: "half",
      } as RequestInit);
      expect(chunked.status).toBe(413);
      const costly = await fetch(url, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({
          query: `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: runCount`).join(" ")} }`,
        }),
      });
      expect(costly.status).toBe(400);
      expect(await code(costly)).toBe("QUERY_TOO_BROAD");
    });

    it("logs in with the read-only token in the browser, keeps data across restarts, logs out", async () => {
      const ctx = await browser.newContext({ viewport: { width: 1366, height: 800 } });
      const p = await ctx.newPage();
      await p.goto(`${server!.url}/runs/${demo[2].id}`);
      await p.waitForURL(/\/login\?next=/);
      await p.getByLabel("Token").fill("not-the-token");
      await p.getByRole("button", { name: "Log in" }).click();
      await p.getByRole("alert").filter({ hasText: "not valid" }).waitFor();
      await shot(p, "login");
      await p.getByLabel("Token").fill(READ);
      await p.getByRole("button", { name: "Log in" }).click();
      await p.waitForURL(new RegExp(`/runs/${demo[2].id}$`));
      await p.getByTestId("run-name").waitFor();
      // The tag added before the restart survived it.
      await p.getByText("e2e-keeper").waitFor();
      await p.getByText("read-only token").waitFor();
      expect(await p.getByLabel("New tag").count()).toBe(0);
      const cookies = await ctx.cookies();
      const session = cookies.find((c) => c.name === "selfsup_session")!;
      expect(session.httpOnly).toBe(true);
      expect(session.value).not.toContain(READ);
      await p.getByRole("button", { name: "Log out" }).click();
      await p.waitForURL(/\/login/);
      await p.goto(`${server!.url}/`);
      await p.waitForURL(/\/login\?next=%2F/);
      await ctx.close();
    });
  });
});
