/**
 * The example in a real browser: a tiny run is trained and exported (`scripts/prepare.mjs`: TF.js
 * graph model + shipped embeddings), the page is served and opened in Debian's Chromium through
 * playwright-core, and its embeddings of 16 images equal Node's (`loadEncoder`) within 1e-4. A PNG
 * picked in the page's file input (the drop path) is embedded and its nearest shipped neighbour
 * is the training image it was drawn from.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { initBackend, loadSynthetic, tf } from "@selfsup/core";
import { loadEncoder } from "@selfsup/runner";
import { type Browser, chromium } from "playwright-core";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error plain ES module scripts without types
import { prepare, selfsupCli } from "../scripts/prepare.mjs";
// @ts-expect-error plain ES module scripts without types
import { startServer } from "../scripts/serve.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`[browser-embed] skipped: no chromium at ${CHROMIUM} (set CHROMIUM_PATH)`);

const DATA = { size: 16, channels: 3, trainSize: 64, testSize: 16 } as const;

describe.skipIf(!haveChromium)("browser-embed in Chromium", () => {
  let home: string;
  let runDir: string;
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;

  beforeAll(async () => {
    home = await mkdtemp(path.join(tmpdir(), "selfsup-browser-embed-"));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SELFSUP_HOME: home,
      SELFSUP_BACKEND: "cpu",
      FORCE_COLOR: "0",
    };
    delete env.DATABASE_URL;
    const config = path.join(home, "run.yaml");
    await writeFile(
      config,
      [
        "method: { name: simclr, options: { projectorHiddenDim: 16, projectorOutputDim: 8 } }",
        "backbone: { name: convnet, options: { width: 4, strides: [2, 2] } }",
        `dataset: { name: synthetic, options: ${JSON.stringify(DATA)} }`,
        "training: { epochs: 1, batchSize: 16 }",
        "eval: { knn: false }",
      ].join("\n"),
    );
    const cli = selfsupCli();
    const r = spawnSync(process.execPath, [cli, "train", config, "--name", "web", "-q"], {
      env,
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    const modelDir = prepare("web", { out: path.join(home, "model"), limit: 64, env });
    const { readdirSync } = await import("node:fs");
    runDir = path.join(home, "runs", readdirSync(path.join(home, "runs"))[0] as string);
    server = await startServer({ modelDir });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"],
    });
    await initBackend("cpu");
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("gives the same embeddings as Node within 1e-4, and finds a picked image's neighbour", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(server.url);
    await page.waitForSelector("body[data-ready], body[data-error]");
    expect(await page.getAttribute("body", "data-error")).toBeNull();
    expect(await page.textContent("#status")).toContain("16x16x3 -> 8 floats; 64 shipped embeddings");

    const enc = await loadEncoder(runDir);
    try {
      const x = tf.randomUniform([16, 16, 16, 3], 0, 1, "float32", 4);
      const node = enc.embed(x);
      const pixels = Array.from(x.dataSync());
      const web = (await page.evaluate(
        ([p]) =>
          (
            globalThis as unknown as { selfsup: { embedPixels(p: number[], n: number): number[][] } }
          ).selfsup.embedPixels(p as number[], 16),
        [pixels],
      )) as number[][];
      const ours = node.arraySync() as number[][];
      let max = 0;
      ours.forEach((row, i) => {
        row.forEach((v, j) => {
          max = Math.max(max, Math.abs(v - (web[i]?.[j] ?? Number.NaN)));
        });
      });
      process.stdout.write(
        `browser-embed: max abs diff Chromium vs Node ${max.toExponential(2)} (16 images, 8 floats)\n`,
      );
      expect(max).toBeLessThanOrEqual(1e-4);
      x.dispose();
      node.dispose();
    } finally {
      enc.dispose();
    }

    // the drop path: training image 5 as a PNG through the file input
    const dataset = await loadSynthetic(DATA);
    const sample = await dataset.train.get(5);
    const png = new PNG({ width: 16, height: 16 });
    for (let p = 0; p < 256; p++) {
      for (let c = 0; c < 3; c++) png.data[p * 4 + c] = Math.round((sample.data[p * 3 + c] as number) * 255);
      png.data[p * 4 + 3] = 255;
    }
    const file = path.join(home, "five.png");
    await writeFile(file, PNG.sync.write(png));
    await page.setInputFiles("#pick", file);
    await page.waitForSelector(".result table tr:nth-child(2)");
    const first = await page.textContent(".result table tr:nth-child(2) td");
    expect(first).toBe("#5");
    expect(errors).toEqual([]);
  });
});
