import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import jpeg from "jpeg-js";
import pngjs from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expandHome, loadImageFolder, resizeToFloat } from "../../src/data/index.js";

let dir = "";

/** A w x h PNG filled with one RGB colour. */
function png(w: number, h: number, rgb: [number, number, number]): Buffer {
  const img = new pngjs.PNG({ width: w, height: h });
  for (let p = 0; p < w * h; p++) img.data.set([...rgb, 255], p * 4);
  return pngjs.PNG.sync.write(img);
}

function jpg(w: number, h: number, rgb: [number, number, number]): Buffer {
  const data = Buffer.alloc(w * h * 4);
  for (let p = 0; p < w * h; p++) data.set([...rgb, 255], p * 4);
  return jpeg.encode({ data, width: w, height: h }, 95).data;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "selfsup-folder-"));
  process.env.SELFSUP_HOME = join(dir, "home"); // the sample cache goes there, not to ~/.selfsup
  await mkdir(join(dir, "labelled", "cats"), { recursive: true });
  await mkdir(join(dir, "labelled", "dogs"), { recursive: true });
  await writeFile(join(dir, "labelled", "cats", "a.png"), png(40, 20, [255, 0, 0]));
  await writeFile(join(dir, "labelled", "cats", "b.jpg"), jpg(16, 16, [0, 0, 255]));
  await writeFile(join(dir, "labelled", "dogs", "c.png"), png(8, 8, [0, 255, 0]));
  await writeFile(join(dir, "labelled", "dogs", ".DS_Store"), "ignored");
  await mkdir(join(dir, "flat"));
  await writeFile(join(dir, "flat", "x.png"), png(10, 10, [10, 20, 30]));
  await writeFile(join(dir, "flat", "y.jpeg"), jpg(30, 30, [200, 200, 200]));
  await writeFile(join(dir, "flat", "notes.txt"), "this is not an image");
  await mkdir(join(dir, "corrupt"));
  await writeFile(join(dir, "corrupt", "ok.png"), png(4, 4, [0, 0, 0]));
  await writeFile(join(dir, "corrupt", "broken.png"), png(64, 64, [1, 2, 3]).subarray(0, 60));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("image-folder", () => {
  it("labelled: class folders give labels; PNG and JPEG are decoded and resized", async () => {
    const ds = await loadImageFolder({ path: join(dir, "labelled"), size: 12 });
    expect(ds.classNames).toEqual(["cats", "dogs"]);
    expect(ds.input).toEqual({ kind: "image", height: 12, width: 12, channels: 3 });
    expect(ds.train.size).toBe(3);
    const labels = [];
    for (let i = 0; i < 3; i++) {
      const s = await ds.train.get(i);
      expect(s.data.length).toBe(12 * 12 * 3);
      labels.push(s.label);
    }
    expect(labels).toEqual([0, 0, 1]);
    const red = await ds.train.get(0);
    expect(red.data[0]).toBeCloseTo(1, 5);
    expect(red.data[1]).toBeCloseTo(0, 5);
    const blue = await ds.train.get(1);
    expect(blue.data[2]).toBeGreaterThan(0.95);
    expect(blue.data[0]).toBeLessThan(0.05);
  });

  it("flat: no labels; a non-image file is an error naming it, skipBad counts it", async () => {
    await expect(loadImageFolder({ path: join(dir, "flat") })).rejects.toThrow(
      /notes\.txt: not a PNG or JPEG image.*skipBad/,
    );
    const ds = await loadImageFolder({ path: join(dir, "flat"), skipBad: true, channels: 1, size: [6, 8] });
    expect(ds.train.size).toBe(2);
    expect(ds.skipped).toHaveLength(1);
    expect(ds.skipped[0]!.file).toMatch(/notes\.txt$/);
    expect(ds.classNames).toBeUndefined();
    const s = await ds.train.get(1);
    expect(s.label).toBeUndefined();
    expect(s.data.length).toBe(48);
    expect(s.data[0]).toBeCloseTo(200 / 255, 1);
  });

  it("a corrupt image is named when read, or skipped at load with verify: full", async () => {
    const lazy = await loadImageFolder({ path: join(dir, "corrupt") });
    await expect(lazy.train.get(0)).rejects.toThrow(/broken\.png: a corrupt or truncated PNG image/);
    const checked = await loadImageFolder({ path: join(dir, "corrupt"), verify: "full", skipBad: true });
    expect(checked.train.size).toBe(1);
    expect(checked.skipped[0]!.file).toMatch(/broken\.png$/);
    expect(checked.skipped[0]!.reason).toMatch(/corrupt or truncated PNG/);
    await Promise.all([lazy.close(), checked.close()]);
  });

  it('decoder: "js" (pure JS, this thread) reads the same folders, close to sharp\'s samples', async () => {
    const js = await loadImageFolder({ path: join(dir, "labelled"), size: 12, decoder: "js" });
    const sh = await loadImageFolder({ path: join(dir, "labelled"), size: 12, cache: false });
    for (let i = 0; i < 3; i++) {
      const [a, b] = [await js.train.get(i), await sh.train.get(i)];
      expect(a.label).toBe(b.label);
      for (let k = 0; k < a.data.length; k += 7) expect(Math.abs(a.data[k]! - b.data[k]!)).toBeLessThan(0.05);
    }
    const lazy = await loadImageFolder({ path: join(dir, "corrupt"), decoder: "js" });
    await expect(lazy.train.get(0)).rejects.toThrow(/broken\.png is a corrupt PNG image/);
    await Promise.all([js.close(), sh.close(), lazy.close()]);
  });

  it("names a missing folder", async () => {
    await expect(loadImageFolder({ path: join(dir, "nowhere") })).rejects.toThrow(/nowhere does not exist/);
  });

  it("resizes with antialiasing: a 2x2 checkerboard block pattern averages to gray", () => {
    const w = 8;
    const rgba = new Uint8Array(w * w * 4);
    for (let y = 0; y < w; y++)
      for (let x = 0; x < w; x++)
        rgba.set((x + y) % 2 ? [255, 255, 255, 255] : [0, 0, 0, 255], (y * w + x) * 4);
    const out = resizeToFloat({ width: w, height: w, rgba }, 2, 2, 1, "stretch");
    for (const v of out) expect(v).toBeCloseTo(0.5, 1);
  });
});

describe("expandHome", () => {
  it("reads ~ and ~/... at the start of a path as the home folder, nothing else", () => {
    expect(expandHome("~/photos")).toBe(join(homedir(), "photos"));
    expect(expandHome("~")).toBe(homedir());
    expect(expandHome("a/~/b")).toBe("a/~/b");
    expect(expandHome("~user/x")).toBe("~user/x");
  });
});
