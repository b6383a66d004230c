/**
 * One decode job, as a decode worker runs it: read the file, decode it with sharp (libvips), turn
 * it upright by its EXIF orientation, convert it to 8-bit sRGB (gray, palette, CMYK, 16-bit and
 * alpha inputs alike; alpha is composited over black) or to 8-bit luma, and resize it to the
 * sample size. The result is HWC uint8, the same bytes whichever thread or process runs it.
 *
 * Formats: JPEG, PNG, WebP, AVIF, TIFF, GIF (its first frame). JPEG and WebP shrink on load when
 * the sample is much smaller than the photo, which is where most of sharp's speed comes from.
 */
import { readFile } from "node:fs/promises";
import type { ResizeMode } from "./image-decode.js";
import { IMAGE_SIGNATURE_BYTES, sniffImageFormat } from "./image-decode.js";

export interface DecodeJob {
  file: string;
  height: number;
  width: number;
  channels: 1 | 3;
  mode: ResizeMode;
}

export type DecodeResult = { ok: true; data: Uint8Array<ArrayBuffer> } | { ok: false; reason: string };

type Sharp = typeof import("sharp").default;
let sharpModule: Promise<Sharp> | undefined;

/** sharp, loaded once per thread; libvips runs one thread per image (the pool is the parallelism). */
export function loadSharp(): Promise<Sharp> {
  sharpModule ??= import("sharp").then((m) => {
    const sharp = m.default;
    sharp.concurrency(1);
    sharp.cache(false);
    return sharp;
  });
  return sharpModule;
}

/** The message of a decode error, said for people (libvips' own words after the format). */
function why(err: unknown, format: string): string {
  const msg = (err instanceof Error ? err.message : String(err)).split("\n")[0]!.trim();
  if (/unsupported image format/i.test(msg)) return `not a readable ${format} image (${msg})`;
  return `a corrupt or truncated ${format} image: ${msg}`;
}

/** Decodes one file; a bad file is `{ ok: false, reason }`, never a throw. */
export async function runDecodeJob(job: DecodeJob): Promise<DecodeResult> {
  let bytes: Buffer;
  try {
    bytes = await readFile(job.file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { ok: false, reason: `cannot read the file (${e.code ?? e.message})` };
  }
  if (bytes.length === 0) return { ok: false, reason: "the file is empty (0 bytes)" };
  const format = sniffImageFormat(bytes.subarray(0, IMAGE_SIGNATURE_BYTES));
  if (!format)
    return {
      ok: false,
      reason: "not an image (its first bytes are no JPEG/PNG/WebP/AVIF/TIFF/GIF signature)",
    };
  const sharp = await loadSharp();
  try {
    let img = sharp(bytes, { failOn: "warning", pages: 1 }).autoOrient();
    img = img.flatten({ background: { r: 0, g: 0, b: 0 } });
    img = img.resize(job.width, job.height, {
      fit: job.mode === "center-crop" ? "cover" : "fill",
      position: "centre",
    });
    img = job.channels === 3 ? img.toColourspace("srgb") : img.toColourspace("b-w");
    const { data, info } = await img.raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
    const want = job.height * job.width * job.channels;
    if (data.length !== want || info.channels !== job.channels) {
      return {
        ok: false,
        reason: `decoded to ${info.width}x${info.height}x${info.channels}, expected ${job.width}x${job.height}x${job.channels}`,
      };
    }
    return { ok: true, data: new Uint8Array(data) }; // a copy of its own, to transfer
  } catch (err) {
    return { ok: false, reason: why(err, format.toUpperCase()) };
  }
}
