/**
 * The encoder's weights as a safetensors file (https://github.com/huggingface/safetensors): an
 * 8-byte little-endian header length, a JSON header (each tensor's dtype, shape and byte range,
 * plus `__metadata__`: string values only), then the raw little-endian data.
 *
 * Tensor names are the encoder's state-dict names (`block1.conv.weight`, `layer2_0.bn1.running_var`).
 * Layout "pytorch" (default) stores what PyTorch's modules hold: Conv2d weights [out, in, kh, kw]
 * (ours are [kh, kw, in, out]), Linear weights [out, in] (ours [in, out]), and each BatchNorm's
 * `num_batches_tracked` (int64 0), so a PyTorch module with the same attribute names loads the
 * file with `load_state_dict` (docs/encoder-out.md shows one for convnet and resnet18). Layout
 * "selfsup" stores our own shapes unchanged. `__metadata__` holds the layout, the backbone's name
 * and options, the input spec and the output size.
 */
import { BatchNorm } from "../nn/layers/batch-norm.js";
import { Conv2d } from "../nn/layers/conv2d.js";
import { Linear } from "../nn/layers/linear.js";
import type { FeatureModule, Module } from "../nn/module.js";
import type { InputSpec } from "../plugin/types.js";
import { tf } from "../tf.js";

export type SafetensorsLayout = "pytorch" | "selfsup";

export interface SafetensorsExportOptions {
  input: InputSpec;
  /** Default "pytorch". */
  layout?: SafetensorsLayout;
  /** Written into `__metadata__` (values JSON-encoded when not strings), e.g. backbone, run. */
  metadata?: Record<string, unknown>;
}

interface Entry {
  name: string;
  dtype: "F32" | "I64";
  shape: number[];
  bytes: Uint8Array;
}

/** Every Conv2d / Linear / BatchNorm of the tree, by its dotted prefix. */
function kinds(m: Module, prefix = "", out = new Map<string, Module>()): Map<string, Module> {
  out.set(prefix, m);
  for (const [name, child] of m.namedChildren()) kinds(child, `${prefix}${name}.`, out);
  return out;
}

export function exportSafetensors(encoder: FeatureModule, opts: SafetensorsExportOptions): Uint8Array {
  const layout = opts.layout ?? "pytorch";
  const modules = kinds(encoder);
  const entries: Entry[] = [];
  for (const [name, v] of encoder.stateDict()) {
    const dot = name.lastIndexOf(".");
    const owner = modules.get(name.slice(0, dot + 1));
    const param = name.slice(dot + 1);
    let perm: number[] | undefined;
    if (layout === "pytorch" && param === "weight") {
      if (owner instanceof Conv2d) perm = [3, 2, 0, 1];
      else if (owner instanceof Linear) perm = [1, 0];
    }
    const t = tf.tidy(() => (perm ? tf.transpose(v, perm) : v.clone()));
    const values = Float32Array.from(t.dataSync() as Float32Array);
    entries.push({ name, dtype: "F32", shape: t.shape, bytes: new Uint8Array(values.buffer) });
    t.dispose();
    if (layout === "pytorch" && owner instanceof BatchNorm && param === "running_var")
      entries.push({
        name: `${name.slice(0, dot + 1)}num_batches_tracked`,
        dtype: "I64",
        shape: [],
        bytes: new Uint8Array(8),
      });
  }
  const metadata: Record<string, string> = {
    format: "selfsup-encoder",
    layout,
    input: JSON.stringify(opts.input),
    outputDim: String(encoder.outputDim),
  };
  for (const [k, v] of Object.entries(opts.metadata ?? {}))
    metadata[k] = typeof v === "string" ? v : JSON.stringify(v);
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + e.bytes.byteLength] };
    offset += e.bytes.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // data starts 8-byte aligned
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.byteLength), true);
  out.set(head, 8);
  let at = 8 + head.byteLength;
  for (const e of entries) {
    out.set(e.bytes, at);
    at += e.bytes.byteLength;
  }
  return out;
}

export interface SafetensorsTensor {
  dtype: string;
  shape: number[];
  data: Float32Array | BigInt64Array;
}

/** Reads a safetensors file (F32 and I64 tensors): its tensors by name and its `__metadata__`. */
export function readSafetensors(bytes: Uint8Array): {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
} {
  if (bytes.byteLength < 8) throw new Error("not a safetensors file: shorter than its 8-byte header length");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = Number(view.getBigUint64(0, true));
  if (8 + len > bytes.byteLength)
    throw new Error(`not a safetensors file: header of ${len} bytes in a file of ${bytes.byteLength}`);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len))) as Record<string, unknown>;
  const base = 8 + len;
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const e = raw as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const [b, end] = e.data_offsets;
    const slice = bytes.slice(base + b, base + end);
    const data = e.dtype === "I64" ? new BigInt64Array(slice.buffer) : new Float32Array(slice.buffer);
    if (e.dtype !== "I64" && e.dtype !== "F32")
      throw new Error(`${name}: dtype ${e.dtype} is not supported here`);
    tensors.set(name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata: (header.__metadata__ ?? {}) as Record<string, string> };
}
