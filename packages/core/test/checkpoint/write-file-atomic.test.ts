import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeFileAtomic } from "../../src/checkpoint/atomic-dir.js";

describe("writeFileAtomic", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const fresh = async () => {
    const d = await mkdtemp(join(tmpdir(), "selfsup-atomic-"));
    dirs.push(d);
    return d;
  };

  it("creates the parent, replaces an old file and leaves no temporary file", async () => {
    const dir = await fresh();
    const file = join(dir, "a", "b", "out.json");
    await writeFileAtomic(file, "old");
    await writeFileAtomic(file, new Uint8Array([110, 101, 119]));
    expect(await readFile(file, "utf8")).toBe("new");
    expect(await readdir(join(dir, "a", "b"))).toEqual(["out.json"]);
  });

  it("a failed rename removes the temporary file and leaves what was there", async () => {
    const dir = await fresh();
    const target = join(dir, "target");
    await mkdir(target);
    await writeFile(join(target, "inside"), "kept");
    // rename() cannot put a file over a non-empty directory.
    await expect(writeFileAtomic(target, "x")).rejects.toThrow();
    expect(await readdir(dir)).toEqual(["target"]);
    expect(await readFile(join(target, "inside"), "utf8")).toBe("kept");
  });
});
