/**
 * Embedding files, chosen by the extension of the output path, written in batches (bounded
 * memory) to a temporary file beside the target and renamed into place only when complete:
 *
 * - `.parquet`: one row per sample: `index` (int64), `path` (string, image folders), `label`
 *   (int32, null when none), `embedding` (list<float32>, every row of the same length; the length
 *   is also in the file's key-value metadata `selfsup`). Written with hyparquet-writer, in row
 *   groups of `ROW_GROUP` rows. pandas / DuckDB / polars read it as is.
 * - `.npy`: a float32 matrix [N, D] (NumPy format 1.0, C order) plus `<name>.ids.jsonl`, one line
 *   per row: `{"index", "label", "path"}`.
 * - `.jsonl`: one line per row: `{"index", "label", "path", "embedding": [...]}`.
 */
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import type { Writer } from "hyparquet-writer";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import { CliError, EXIT } from "../exit-codes.js";

export const EMBEDDING_FORMATS = ["parquet", "npy", "jsonl"] as const;
export type EmbeddingFormat = (typeof EMBEDDING_FORMATS)[number];

/** Rows per Parquet row group. */
export const ROW_GROUP = 4096;

export interface EmbeddingRows {
  index: number[];
  label: Array<number | null>;
  path: Array<string | null>;
  /** Row-major [rows, dim]. */
  embeddings: Float32Array;
}

export interface EmbeddingWriter {
  write(rows: EmbeddingRows): Promise<void>;
  /** Completes the files and moves them into place; returns their paths. */
  finish(): Promise<string[]>;
  /** Removes the temporary files (after an error). */
  abort(): void;
}

export interface EmbeddingFileInfo {
  rows: number;
  dim: number;
  /** Written into the Parquet metadata / the npy sidecar's first line. */
  meta: Record<string, unknown>;
  withPath: boolean;
}

export function formatOf(out: string): EmbeddingFormat {
  const ext = path.extname(out).slice(1).toLowerCase();
  if ((EMBEDDING_FORMATS as readonly string[]).includes(ext)) return ext as EmbeddingFormat;
  throw new CliError(
    `--out ${out}: the extension picks the format; use .parquet, .npy or .jsonl (got ${ext ? `.${ext}` : "none"})`,
    EXIT.usage,
  );
}

/** The files `out` produces (the npy sidecar too). */
export function outputFiles(out: string): string[] {
  return formatOf(out) === "npy" ? [out, idsSidecar(out)] : [out];
}

export function idsSidecar(out: string): string {
  return out.replace(/\.npy$/i, ".ids.jsonl");
}

/** Refuses to overwrite unless `force`; names every existing file. */
export function checkOutputFree(files: string[], force: boolean | undefined): void {
  const existing = files.filter((f) => existsSync(f));
  if (existing.length > 0 && !force)
    throw new CliError(`${existing.join(", ")} already exists; pass --force to replace it`, EXIT.usage);
}

/** A file written through a temporary name and renamed into place on `commit`. */
class AtomicFile {
  readonly tmp: string;
  private fd: number | undefined;
  bytes = 0;

  constructor(readonly target: string) {
    this.tmp = path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}`);
    this.fd = openSync(this.tmp, "w");
  }

  write(data: Uint8Array | string): void {
    if (this.fd === undefined) throw new Error(`internal: ${this.target} already closed`);
    const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let off = 0;
    while (off < buf.byteLength) off += writeSync(this.fd, buf, off, buf.byteLength - off);
    this.bytes += buf.byteLength;
  }

  close(): void {
    if (this.fd === undefined) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = undefined;
  }

  commit(): void {
    this.close();
    renameSync(this.tmp, this.target);
  }

  abort(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.tmp, { force: true });
  }
}

/**
 * hyparquet-writer's ByteWriter whose buffer goes to an AtomicFile after each row group and at
 * the end (as its own `fileWriter` does with a plain file), so memory holds one row group.
 */
function parquetSink(file: AtomicFile): Writer {
  const w = new ByteWriter(1 << 20);
  const flush = () => {
    file.write(new Uint8Array(w.buffer, 0, w.index));
    w.index = 0; // `offset` keeps counting the file's bytes
  };
  return Object.assign(w, {
    flush,
    finish: flush,
    getBuffer(): ArrayBuffer {
      throw new Error("internal: the Parquet sink streams to disk");
    },
  }) as Writer;
}

class ParquetEmbeddingWriter implements EmbeddingWriter {
  private readonly file: AtomicFile;
  private readonly writer: ParquetWriter;
  private pending: EmbeddingRows[] = [];
  private pendingRows = 0;

  constructor(
    out: string,
    private readonly info: EmbeddingFileInfo,
  ) {
    this.file = new AtomicFile(out);
    const schema = [
      { name: "root", num_children: info.withPath ? 4 : 3 },
      { name: "index", type: "INT64" as const, repetition_type: "REQUIRED" as const },
      ...(info.withPath
        ? [
            {
              name: "path",
              type: "BYTE_ARRAY" as const,
              converted_type: "UTF8" as const,
              repetition_type: "OPTIONAL" as const,
            },
          ]
        : []),
      { name: "label", type: "INT32" as const, repetition_type: "OPTIONAL" as const },
      {
        name: "embedding",
        repetition_type: "REQUIRED" as const,
        converted_type: "LIST" as const,
        num_children: 1,
      },
      { name: "list", repetition_type: "REPEATED" as const, num_children: 1 },
      { name: "element", type: "FLOAT" as const, repetition_type: "REQUIRED" as const },
    ];
    this.writer = new ParquetWriter({
      writer: parquetSink(this.file),
      schema,
      kvMetadata: [{ key: "selfsup", value: JSON.stringify({ dim: info.dim, ...info.meta }) }],
      createdBy: "selfsup embed (hyparquet-writer)",
    });
  }

  async write(rows: EmbeddingRows): Promise<void> {
    this.pending.push(rows);
    this.pendingRows += rows.index.length;
    if (this.pendingRows >= ROW_GROUP) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pendingRows === 0) return;
    const d = this.info.dim;
    const index: bigint[] = [];
    const label: Array<number | null> = [];
    const paths: Array<string | null> = [];
    const emb: number[][] = [];
    for (const r of this.pending) {
      r.index.forEach((i, k) => {
        index.push(BigInt(i));
        label.push(r.label[k] ?? null);
        paths.push(r.path[k] ?? null);
        emb.push(Array.from(r.embeddings.subarray(k * d, (k + 1) * d)));
      });
    }
    this.pending = [];
    this.pendingRows = 0;
    await this.writer.write({
      columnData: [
        { name: "index", data: index },
        ...(this.info.withPath ? [{ name: "path", data: paths }] : []),
        { name: "label", data: label },
        { name: "embedding", data: emb },
      ],
      rowGroupSize: Number.MAX_SAFE_INTEGER,
    });
  }

  async finish(): Promise<string[]> {
    await this.flush();
    await this.writer.finish();
    this.file.commit();
    return [this.file.target];
  }

  abort(): void {
    this.file.abort();
  }
}

/** NumPy's .npy format 1.0 header for a little-endian float32 C-order matrix. */
export function npyHeader(rows: number, dim: number): Uint8Array {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${dim}), }`;
  // magic (6) + version (2) + header length (2) + dict + padding + \n, a multiple of 64
  const unpadded = 10 + dict.length + 1;
  const pad = (64 - (unpadded % 64)) % 64;
  const header = `${dict}${" ".repeat(pad)}\n`;
  const out = new Uint8Array(10 + header.length);
  out.set([0x93, ...Buffer.from("NUMPY"), 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(Buffer.from(header, "latin1"), 10);
  return out;
}

function idLine(index: number, label: number | null, p: string | null): Record<string, unknown> {
  return { index, label, ...(p !== null ? { path: p } : {}) };
}

class NpyEmbeddingWriter implements EmbeddingWriter {
  private readonly matrix: AtomicFile;
  private readonly ids: AtomicFile;
  private rows = 0;

  constructor(
    out: string,
    private readonly info: EmbeddingFileInfo,
  ) {
    this.matrix = new AtomicFile(out);
    this.ids = new AtomicFile(idsSidecar(out));
    this.matrix.write(npyHeader(info.rows, info.dim));
  }

  async write(r: EmbeddingRows): Promise<void> {
    const le = new Uint8Array(r.embeddings.buffer, r.embeddings.byteOffset, r.embeddings.byteLength);
    this.matrix.write(le); // float32 rows, host order: little-endian on every platform Node runs on
    this.ids.write(
      r.index.map((i, k) => `${JSON.stringify(idLine(i, r.label[k] ?? null, r.path[k] ?? null))}\n`).join(""),
    );
    this.rows += r.index.length;
  }

  async finish(): Promise<string[]> {
    if (this.rows !== this.info.rows)
      throw new Error(`internal: the .npy header says ${this.info.rows} rows but ${this.rows} were written`);
    this.matrix.commit();
    this.ids.commit();
    return [this.matrix.target, this.ids.target];
  }

  abort(): void {
    this.matrix.abort();
    this.ids.abort();
  }
}

class JsonlEmbeddingWriter implements EmbeddingWriter {
  private readonly file: AtomicFile;

  constructor(
    out: string,
    private readonly info: EmbeddingFileInfo,
  ) {
    this.file = new AtomicFile(out);
  }

  async write(r: EmbeddingRows): Promise<void> {
    const d = this.info.dim;
    this.file.write(
      r.index
        .map(
          (i, k) =>
            `${JSON.stringify({
              ...idLine(i, r.label[k] ?? null, r.path[k] ?? null),
              embedding: Array.from(r.embeddings.subarray(k * d, (k + 1) * d)),
            })}\n`,
        )
        .join(""),
    );
  }

  async finish(): Promise<string[]> {
    this.file.commit();
    return [this.file.target];
  }

  abort(): void {
    this.file.abort();
  }
}

export function openEmbeddingWriter(out: string, info: EmbeddingFileInfo): EmbeddingWriter {
  const format = formatOf(out);
  if (format === "parquet") return new ParquetEmbeddingWriter(out, info);
  if (format === "npy") return new NpyEmbeddingWriter(out, info);
  return new JsonlEmbeddingWriter(out, info);
}
