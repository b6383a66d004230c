import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CIFAR10_RECORD_BYTES, loadCifar10 } from "../../src/data/index.js";

let dir = "";

/** n records whose label is (first + i) % 10 and whose red plane is filled with i, green with 100, blue with 200. */
function records(n: number, first: number): Buffer {
  const buf = Buffer.alloc(n * CIFAR10_RECORD_BYTES);
  for (let i = 0; i < n; i++) {
    const o = i * CIFAR10_RECORD_BYTES;
    buf[o] = (first + i) % 10;
    buf.fill(i, o + 1, o + 1025);
    buf.fill(100, o + 1025, o + 2049);
    buf.fill(200, o + 2049, o + 3073);
    buf[o + 1 + 33] = 255; // red pixel (row 1, column 1)
  }
  return buf;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "selfsup-cifar-"));
  await writeFile(join(dir, "data_batch_1.bin"), records(10, 0));
  await writeFile(join(dir, "data_batch_2.bin"), records(10, 3));
  await writeFile(join(dir, "test_batch.bin"), records(4, 7));
  await writeFile(join(dir, "data_batch_3.bin"), records(3, 0).subarray(0, 3 * CIFAR10_RECORD_BYTES - 100));
  const bad = records(1100, 0);
  bad[1037 * CIFAR10_RECORD_BYTES] = 200; // past the first 1024-record chunk of the label scan
  await writeFile(join(dir, "data_batch_5.bin"), bad);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("cifar10 (binary files)", () => {
  it("reads records lazily across batch files as HWC floats with labels", async () => {
    const ds = await loadCifar10({ path: dir, trainFiles: ["data_batch_1.bin", "data_batch_2.bin"] });
    expect(ds.input).toEqual({ kind: "image", height: 32, width: 32, channels: 3 });
    expect(ds.train.size).toBe(20);
    expect(ds.test!.size).toBe(4);
    const s = await ds.train.get(12); // record 2 of the second file
    expect(s.label).toBe(5);
    expect(s.data.length).toBe(3072);
    expect(s.data[0]).toBeCloseTo(2 / 255, 6);
    expect(s.data[1]).toBeCloseTo(100 / 255, 6);
    expect(s.data[2]).toBeCloseTo(200 / 255, 6);
    expect(s.data[33 * 3]).toBe(1); // CHW -> HWC: the red plane's pixel 33 is pixel (1,1)'s red
    expect((await ds.test!.get(3)).label).toBe(0);
    expect(ds.classNames![0]).toBe("airplane");
    ds.close();
  });

  it("names a truncated file and its size", async () => {
    await expect(
      loadCifar10({ path: dir, trainFiles: ["data_batch_1.bin", "data_batch_3.bin"] }),
    ).rejects.toThrow(
      /data_batch_3\.bin is 9119 bytes, not a whole number of 3073-byte records .*2 records and 2973 stray bytes/,
    );
  });

  it("refuses a record whose label is out of range at load, naming the record", async () => {
    await expect(
      loadCifar10({ path: dir, trainFiles: ["data_batch_1.bin", "data_batch_5.bin"] }),
    ).rejects.toThrow(/data_batch_5\.bin: record 1037 has label 200, expected 0-9/);
  });

  it("names a missing file and a missing folder", async () => {
    await expect(
      loadCifar10({ path: dir, trainFiles: ["data_batch_1.bin", "data_batch_4.bin"] }),
    ).rejects.toThrow(/data_batch_4\.bin does not exist/);
    await expect(loadCifar10({ path: join(dir, "nope") })).rejects.toThrow(/nope is not a folder/);
  });
});
