/**
 * Image formats by their signature, and the pure-JS decoder (pngjs, jpeg-js: PNG and JPEG only, on
 * the calling thread) with an antialiased resize to float HWC in [0,1]. `image-folder` uses this
 * path with `decoder: "js"`; its default decodes on worker threads with sharp (decode-pool.ts).
 * Errors name the file and say what is wrong.
 */
import jpeg from "jpeg-js";
import pngjs from "pngjs";
import { DatasetError } from "./split.js";

export type ImageFormat = "png" | "jpeg" | "webp" | "gif" | "tiff" | "avif";

/** Bytes `sniffImageFormat` needs to tell every format apart. */
export const IMAGE_SIGNATURE_BYTES = 16;

const ascii = (head: Uint8Array, at: number, text: string) =>
  head.length >= at + text.length && [...text].every((c, i) => head[at + i] === c.charCodeAt(0));

/** The format by the file's first bytes (magic numbers), or undefined for anything else. */
export function sniffImageFormat(head: Uint8Array): ImageFormat | undefined {
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (head.length >= 8 && png.every((b, i) => head[i] === b)) return "png";
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return "jpeg";
  if (ascii(head, 0, "RIFF") && ascii(head, 8, "WEBP")) return "webp";
  if (ascii(head, 0, "GIF87a") || ascii(head, 0, "GIF89a")) return "gif";
  if (ascii(head, 0, "II*\0") || ascii(head, 0, "MM\0*")) return "tiff";
  if (ascii(head, 4, "ftypavif") || ascii(head, 4, "ftypavis")) return "avif";
  return undefined;
}

export interface DecodedImage {
  width: number;
  height: number;
  /** RGBA bytes, row-major. */
  rgba: Uint8Array;
}

/** Decodes a PNG or JPEG file's bytes; `file` names it in errors. */
export function decodeImage(bytes: Uint8Array, file: string): DecodedImage {
  const format = sniffImageFormat(bytes);
  if (!format) {
    throw new DatasetError(`${file} is not a PNG or JPEG image (its first bytes are not an image signature)`);
  }
  if (format !== "png" && format !== "jpeg") {
    throw new DatasetError(
      `${file} is a ${format.toUpperCase()} image; the pure-JS decoder reads PNG and JPEG only (use decoder: "sharp")`,
    );
  }
  try {
    if (format === "png") {
      const img = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: img.width, height: img.height, rgba: img.data };
    }
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
    return { width: img.width, height: img.height, rgba: img.data };
  } catch (err) {
    throw new DatasetError(`${file} is a corrupt ${format.toUpperCase()} image: ${(err as Error).message}`);
  }
}

export type ResizeMode = "center-crop" | "stretch";

/**
 * Resamples RGBA bytes to outH x outW float HWC in [0,1] with `channels` 3 (RGB) or 1 (BT.601 luma).
 * Transparent pixels are composited over black. "center-crop" keeps the aspect ratio by cutting
 * the longer side (the evaluation-time convention); "stretch" resizes the whole image.
 * The filter is a triangle widened by the downscale factor (as PIL's antialiased bilinear), so
 * large photos shrink without aliasing.
 */
export function resizeToFloat(
  img: DecodedImage,
  outH: number,
  outW: number,
  channels: 1 | 3,
  mode: ResizeMode = "center-crop",
): Float32Array {
  const { width: w, height: h, rgba } = img;
  let x0 = 0;
  let y0 = 0;
  let cw = w;
  let ch = h;
  if (mode === "center-crop") {
    const target = outW / outH;
    if (w / h > target) {
      cw = h * target;
      x0 = (w - cw) / 2;
    } else {
      ch = w / target;
      y0 = (h - ch) / 2;
    }
  }
  // to float RGB
  const rgb = new Float32Array(w * h * 3);
  for (let p = 0; p < w * h; p++) {
    const a = rgba[p * 4 + 3]! / 255;
    for (let k = 0; k < 3; k++) rgb[p * 3 + k] = (rgba[p * 4 + k]! / 255) * a;
  }
  const cols = weights(w, x0, cw, outW);
  const rows = weights(h, y0, ch, outH);
  // horizontal pass: [h, outW, 3]
  const tmp = new Float32Array(h * outW * 3);
  for (let y = 0; y < h; y++) {
    for (let o = 0; o < outW; o++) {
      const { start, taps } = cols[o]!;
      let r = 0;
      let g = 0;
      let b = 0;
      for (let t = 0; t < taps.length; t++) {
        const i = (y * w + start + t) * 3;
        const wt = taps[t]!;
        r += rgb[i]! * wt;
        g += rgb[i + 1]! * wt;
        b += rgb[i + 2]! * wt;
      }
      const j = (y * outW + o) * 3;
      tmp[j] = r;
      tmp[j + 1] = g;
      tmp[j + 2] = b;
    }
  }
  // vertical pass, then channel conversion
  const out = new Float32Array(outH * outW * channels);
  for (let o = 0; o < outH; o++) {
    const { start, taps } = rows[o]!;
    for (let x = 0; x < outW; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let t = 0; t < taps.length; t++) {
        const i = ((start + t) * outW + x) * 3;
        const wt = taps[t]!;
        r += tmp[i]! * wt;
        g += tmp[i + 1]! * wt;
        b += tmp[i + 2]! * wt;
      }
      const j = (o * outW + x) * channels;
      if (channels === 3) {
        out[j] = clamp(r);
        out[j + 1] = clamp(g);
        out[j + 2] = clamp(b);
      } else {
        out[j] = clamp(0.299 * r + 0.587 * g + 0.114 * b);
      }
    }
  }
  return out;
}

const clamp = (v: number) => Math.min(1, Math.max(0, v));

/** Normalised triangle-filter taps mapping `n` outputs onto the input span [offset, offset+span). */
function weights(
  inSize: number,
  offset: number,
  span: number,
  n: number,
): Array<{ start: number; taps: number[] }> {
  const scale = span / n;
  const support = Math.max(scale, 1);
  const out: Array<{ start: number; taps: number[] }> = [];
  for (let o = 0; o < n; o++) {
    const center = offset + (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support));
    const hi = Math.min(inSize, Math.ceil(center + support));
    const taps: number[] = [];
    let sum = 0;
    for (let i = lo; i < hi; i++) {
      const v = Math.max(0, 1 - Math.abs((i + 0.5 - center) / support));
      taps.push(v);
      sum += v;
    }
    if (sum === 0) {
      const nearest = Math.min(inSize - 1, Math.max(0, Math.floor(center)));
      out.push({ start: nearest, taps: [1] });
    } else {
      out.push({ start: lo, taps: taps.map((v) => v / sum) });
    }
  }
  return out;
}
