import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CIFAR100_RECORD_BYTES, loadCifar100, loadStl10, STL10_IMAGE_BYTES } from "../../src/data/index.js";

let dir = "";

/** CIFAR-100 records: coarse label i % 20, fine (first + i) % 100; red plane i, green 100, blue 200; one marked pixel. */
function cifar100Records(n: number, first: number): Buffer {
  const buf = Buffer.alloc(n * CIFAR100_RECORD_BYTES);
  for (let i = 0; i < n; i++) {
    const o = i * CIFAR100_RECORD_BYTES;
    buf[o] = i % 20;
    buf[o + 1] = (first + i) % 100;
    buf.fill(i, o + 2, o + 2 + 1024);
    buf.fill(100, o + 2 + 1024, o + 2 + 2048);
    buf.fill(200, o + 2 + 2048, o + 2 + 3072);
    buf[o + 2 + 32 * 2 + 5] = 255; // red at row 2, column 5 (row-major)
  }
  return buf;
}

/** STL-10 images: red plane k, green 50, blue 150; red 255 at (row 3, column 7), stored column-major. */
function stl10Images(n: number, first: number): Buffer {
  const buf = Buffer.alloc(n * STL10_IMAGE_BYTES);
  for (let i = 0; i < n; i++) {
    const o = i * STL10_IMAGE_BYTES;
    buf.fill(first + i, o, o + 9216);
    buf.fill(50, o + 9216, o + 2 * 9216);
    buf.fill(150, o + 2 * 9216, o + 3 * 9216);
    buf[o + 7 * 96 + 3] = 255; // column 7, row 3
  }
  return buf;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "selfsup-stl-cifar100-"));
  const c = join(dir, "cifar-100-binary");
  await mkdir(c);
  await writeFile(join(c, "train.bin"), cifar100Records(12, 0));
  await writeFile(join(c, "test.bin"), cifar100Records(5, 50));
  await writeFile(
    join(c, "fine_label_names.txt"),
    `${Array.from({ length: 100 }, (_, i) => `fine${i}`).join("\n")}\n`,
  );
  await writeFile(
    join(dir, "cifar100-trunc.bin"),
    cifar100Records(3, 0).subarray(0, 2 * CIFAR100_RECORD_BYTES + 7),
  );
  const ten = Buffer.alloc(3 * 3073); // three CIFAR-10 records (one label byte each)
  await writeFile(join(dir, "cifar10-shaped.bin"), ten);
  const badFine = cifar100Records(4, 0);
  badFine[2 * CIFAR100_RECORD_BYTES + 1] = 140;
  await writeFile(join(dir, "cifar100-badlabel.bin"), badFine);

  const s = join(dir, "stl10_binary");
  await mkdir(s);
  await writeFile(join(s, "train_X.bin"), stl10Images(4, 0));
  await writeFile(join(s, "train_y.bin"), Buffer.from([1, 2, 10, 5]));
  await writeFile(join(s, "test_X.bin"), stl10Images(3, 10));
  await writeFile(join(s, "test_y.bin"), Buffer.from([3, 3, 4]));
  await writeFile(join(s, "unlabeled_X.bin"), stl10Images(6, 20));
  const broken = join(dir, "stl-broken");
  await mkdir(broken);
  await writeFile(join(broken, "train_X.bin"), stl10Images(2, 0).subarray(0, STL10_IMAGE_BYTES + 1000));
  await writeFile(join(broken, "train_y.bin"), Buffer.from([1, 2]));
  const mismatch = join(dir, "stl-mismatch");
  await mkdir(mismatch);
  await writeFile(join(mismatch, "train_X.bin"), stl10Images(3, 0));
  await writeFile(join(mismatch, "train_y.bin"), Buffer.from([1, 2]));
  const zero = join(dir, "stl-label0");
  await mkdir(zero);
  await writeFile(join(zero, "train_X.bin"), stl10Images(2, 0));
  await writeFile(join(zero, "train_y.bin"), Buffer.from([1, 0]));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("cifar100 (binary files)", () => {
  it("reads fine or coarse labels and HWC pixels; class names from fine_label_names.txt", async () => {
    const ds = await loadCifar100({ path: join(dir, "cifar-100-binary") });
    expect(ds.input).toEqual({ kind: "image", height: 32, width: 32, channels: 3 });
    expect([ds.train.size, ds.test?.size, ds.numClasses]).toEqual([12, 5, 100]);
    expect(ds.classNames?.[7]).toBe("fine7");
    const s = await ds.train.get(7);
    expect(s.label).toBe(7);
    expect(Array.from(s.data.slice(0, 3), (v) => Math.round(v * 255))).toEqual([7, 100, 200]);
    expect(s.data[(2 * 32 + 5) * 3]).toBe(1);
    expect((await ds.test!.get(2)).label).toBe(52);
    ds.close();
    const coarse = await loadCifar100({
      path: join(dir, "cifar-100-binary"),
      labels: "coarse",
      testFile: null,
    });
    expect(coarse.numClasses).toBe(20);
    expect(coarse.classNames?.[3]).toBe("class 3"); // no coarse_label_names.txt
    expect((await coarse.train.get(7)).label).toBe(7);
    expect((await coarse.train.get(11)).label).toBe(11);
    expect(coarse.test).toBeUndefined();
    coarse.close();
  });

  it("names a truncated file, a CIFAR-10 file and a bad label", async () => {
    await expect(
      loadCifar100({ path: dir, trainFile: "cifar100-trunc.bin", testFile: null }),
    ).rejects.toThrow(
      /cifar100: .*cifar100-trunc\.bin is 6155 bytes, not a whole number of 3074-byte records .*2 records and 7 stray bytes/,
    );
    await expect(
      loadCifar100({ path: dir, trainFile: "cifar10-shaped.bin", testFile: null }),
    ).rejects.toThrow(/cifar10-shaped\.bin is 9219 bytes, not a whole number of 3074-byte records/);
    await expect(
      loadCifar100({ path: dir, trainFile: "cifar100-badlabel.bin", testFile: null }),
    ).rejects.toThrow(/cifar100: .*cifar100-badlabel\.bin: record 2 has fine label 140, expected 0-99/);
    await expect(loadCifar100({ path: join(dir, "nope") })).rejects.toThrow(
      /cifar100: .*nope is not a folder/,
    );
    await expect(loadCifar100({ path: dir, trainFile: "missing.bin" })).rejects.toThrow(
      /missing\.bin does not exist; expected the binary version's train\.bin and test\.bin/,
    );
  });
});

describe("stl10 (binary files)", () => {
  it("reads column-major planes as HWC, labels 1-10 as 0-9; train, unlabeled or both", async () => {
    const ds = await loadStl10({ path: join(dir, "stl10_binary") });
    expect(ds.input).toEqual({ kind: "image", height: 96, width: 96, channels: 3 });
    expect([ds.train.size, ds.test?.size, ds.numClasses]).toEqual([4, 3, 10]);
    expect(ds.classNames?.[0]).toBe("airplane");
    const s = await ds.train.get(2);
    expect(s.label).toBe(9);
    expect(Array.from(s.data.slice(0, 3), (v) => Math.round(v * 255))).toEqual([2, 50, 150]);
    expect(s.data[(3 * 96 + 7) * 3]).toBe(1); // row 3, column 7
    expect(s.data[(7 * 96 + 3) * 3]).not.toBe(1); // not transposed
    expect((await ds.test!.get(2)).label).toBe(3);
    ds.close();
    const both = await loadStl10({
      path: join(dir, "stl10_binary"),
      trainSplit: "train+unlabeled",
      test: false,
    });
    expect(both.train.size).toBe(10);
    const u = await both.train.get(5);
    expect(u.label).toBeUndefined();
    expect(Math.round(u.data[0]! * 255)).toBe(21);
    both.close();
    const un = await loadStl10({ path: join(dir, "stl10_binary"), trainSplit: "unlabeled" });
    expect(un.train.size).toBe(6);
    un.close();
  });

  it("names a truncated image file, labels that do not match, a bad label and a missing folder", async () => {
    await expect(loadStl10({ path: join(dir, "stl-broken"), test: false })).rejects.toThrow(
      /stl10: .*train_X\.bin is 28648 bytes, not a whole number of 27648-byte records .*1 records and 1000 stray bytes/,
    );
    await expect(loadStl10({ path: join(dir, "stl-mismatch"), test: false })).rejects.toThrow(
      /train_y\.bin has 2 labels but .*train_X\.bin has 3 images/,
    );
    await expect(loadStl10({ path: join(dir, "stl-label0"), test: false })).rejects.toThrow(
      /train_y\.bin: label 1 is 0, expected 1-10/,
    );
    await expect(loadStl10({ path: join(dir, "stl-label0"), trainSplit: "unlabeled" })).rejects.toThrow(
      /unlabeled_X\.bin does not exist; expected the extracted stl10_binary/,
    );
    await expect(loadStl10({ path: join(dir, "nope") })).rejects.toThrow(/stl10: .*nope is not a folder/);
  });
});
