/**
 * Writing a directory atomically: everything goes into `<dir>.tmp-<pid>`, each file and the
 * directory are fsync'ed, then one rename publishes it. A reader (or a resume after a crash)
 * sees either the whole checkpoint or none of it; a failed write leaves no partial directory.
 */
import { createHash } from "node:crypto";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";

export interface WrittenFile {
  bytes: number;
  sha256: string;
}

/** Collects files for one directory; `commit` publishes them. */
export interface DirWriter {
  /** Writes (and fsyncs) one file; returns its size and checksum. */
  write(name: string, data: Uint8Array | string): Promise<WrittenFile>;
}

export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `fill` against a temporary directory next to `dir`, then replaces `dir` with it in one
 * rename. If `fill` throws, the temporary directory is removed and the error is rethrown; an
 * existing `dir` is left untouched.
 */
export async function writeDirAtomically<T>(dir: string, fill: (w: DirWriter) => Promise<T>): Promise<T> {
  const parent = dirname(dir);
  const tmp = `${dir}.tmp-${process.pid}`;
  await mkdir(parent, { recursive: true });
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  let result: T;
  try {
    const writer: DirWriter = {
      async write(name, data) {
        if (name.includes("/") || name.includes("\\") || name.startsWith("."))
          throw new Error(`invalid file name "${name}"`);
        const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
        const fh = await open(`${tmp}/${name}`, "wx");
        try {
          await fh.writeFile(bytes);
          await fh.sync();
        } finally {
          await fh.close();
        }
        return { bytes: bytes.byteLength, sha256: sha256(bytes) };
      },
    };
    result = await fill(writer);
    await fsyncPath(tmp);
    if (await exists(dir)) {
      // rename() cannot replace a non-empty directory: move the old one aside first.
      const old = `${dir}.old-${process.pid}`;
      await rm(old, { recursive: true, force: true });
      await rename(dir, old);
      await rename(tmp, dir);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, dir);
    }
    await fsyncPath(parent);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return result;
}

/**
 * Writes one file atomically: into `<file>.tmp-<pid>` (fsync'ed), then one rename over `file`, so
 * a reader sees the old file or the new one, never half of one. Creates the parent directory; a
 * failed write removes the temporary file and leaves `file` as it was.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
