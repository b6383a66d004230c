/**
 * TF.js graph-model export of an encoder: `model.json` (a TensorFlow GraphDef in JSON, the format
 * `tf.loadGraphModel` reads) plus one weight shard, emitted per layer kind with the TensorFlow ops
 * tfjs-converter executes (Conv2D with TF's own "SAME" padding, FusedBatchNormV3, MatMul, ...).
 * Layouts are ours (NHWC), so no transposes around convolutions.
 *
 * Input `images` [batch, H, W, C] float32 in [0, 1], output `embedding` [batch, outputDim];
 * `userDefinedMetadata` carries the input spec and the encoder's source. Backbones: convnet,
 * resnet18, vit-tiny; anything else is refused with `OnnxExportError` naming the module.
 */
import { ConvNet } from "../nn/backbones/convnet.js";
import { BasicBlock, ResNet } from "../nn/backbones/resnet.js";
import { ViT } from "../nn/backbones/vit.js";
import type { MultiHeadSelfAttention } from "../nn/layers/attention.js";
import type { BatchNorm } from "../nn/layers/batch-norm.js";
import type { Conv2d } from "../nn/layers/conv2d.js";
import type { LayerNorm } from "../nn/layers/layer-norm.js";
import type { Linear } from "../nn/layers/linear.js";
import type { TransformerBlock } from "../nn/layers/transformer-block.js";
import type { FeatureModule } from "../nn/module.js";
import type { InputSpec } from "../plugin/types.js";
import type { tf } from "../tf.js";
import { ONNX_BACKBONES, OnnxExportError } from "./onnx.js";

type Attr =
  | { type: string }
  | { list: { i: string[] } }
  | { s: string }
  | { f: number }
  | { b: boolean }
  | { i: string }
  | { shape: { dim: Array<{ size: string }> } };

interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, Attr>;
}

interface Weight {
  name: string;
  shape: number[];
  dtype: "float32" | "int32";
  data: Float32Array | Int32Array;
}

const str = (s: string): Attr => ({ s: Buffer.from(s, "utf8").toString("base64") });
const ints = (v: number[]): Attr => ({ list: { i: v.map(String) } });
const FLOAT_T: Attr = { type: "DT_FLOAT" };

class TfGraph {
  readonly nodes: GraphNode[] = [];
  readonly weights: Weight[] = [];
  private readonly used = new Set<string>();

  name(base: string): string {
    let n = base.replace(/[^A-Za-z0-9_./-]/g, "_");
    for (let i = 1; this.used.has(n); i++) n = `${base}_${i}`;
    this.used.add(n);
    return n;
  }

  constant(base: string, data: Float32Array | Int32Array, shape: number[]): string {
    const name = this.name(base);
    const dtype = data instanceof Int32Array ? "int32" : "float32";
    const tfType = dtype === "int32" ? "DT_INT32" : "DT_FLOAT";
    this.nodes.push({
      name,
      op: "Const",
      attr: {
        dtype: { type: tfType },
        value: {
          tensor: { dtype: tfType, tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } },
        } as never,
      },
    });
    this.weights.push({ name, shape, dtype, data });
    return name;
  }

  float(base: string, t: tf.Tensor | Float32Array, shape?: number[]): string {
    if (t instanceof Float32Array) return this.constant(base, Float32Array.from(t), shape ?? [t.length]);
    return this.constant(base, Float32Array.from(t.dataSync() as Float32Array), t.shape);
  }

  int(base: string, values: number[], shape: number[] = [values.length]): string {
    return this.constant(base, Int32Array.from(values), shape);
  }

  scalar(v: number): string {
    return this.constant("const", Float32Array.of(v), []);
  }

  op(op: string, input: string[], attr: Record<string, Attr> = {}, base = op): string {
    const name = this.name(base);
    this.nodes.push({ name, op, input, attr });
    return name;
  }
}

// ---------------------------------------------------------------- layers (NHWC)

function conv(g: TfGraph, c: Conv2d, x: string, p: string): string {
  const padding = (c as unknown as { options: { padding: "same" | "valid" } }).options.padding;
  let y = g.op(
    "Conv2D",
    [x, g.float(`${p}.weight`, c.weight)],
    {
      T: FLOAT_T,
      strides: ints([1, c.stride, c.stride, 1]),
      padding: str(padding.toUpperCase()),
      data_format: str("NHWC"),
      dilations: ints([1, 1, 1, 1]),
    },
    p,
  );
  if (c.bias)
    y = g.op("BiasAdd", [y, g.float(`${p}.bias`, c.bias)], { T: FLOAT_T, data_format: str("NHWC") });
  return y;
}

function batchNorm(g: TfGraph, bn: BatchNorm, x: string, p: string): string {
  const c = bn.numFeatures;
  const eps = (bn as unknown as { options: { eps: number } }).options.eps;
  const scale = bn.weight
    ? g.float(`${p}.weight`, bn.weight)
    : g.float(`${p}.weight`, new Float32Array(c).fill(1));
  const offset = bn.bias ? g.float(`${p}.bias`, bn.bias) : g.float(`${p}.bias`, new Float32Array(c));
  return g.op(
    "FusedBatchNormV3",
    [
      x,
      scale,
      offset,
      g.float(`${p}.running_mean`, bn.runningMean),
      g.float(`${p}.running_var`, bn.runningVar),
    ],
    { epsilon: { f: eps }, data_format: str("NHWC"), T: FLOAT_T },
    p,
  );
}

const relu = (g: TfGraph, x: string) => g.op("Relu", [x], { T: FLOAT_T });

/** x [..., in] -> [..., out]: flattened to 2-D for one MatMul, reshaped back to `lead` + [out]. */
function linear(g: TfGraph, lin: Linear, x: string, lead: number[], p: string): string {
  const flat = lead.length > 0 ? g.op("Reshape", [x, g.int("shape", [-1, lin.inFeatures])]) : x;
  let y = g.op(
    "MatMul",
    [flat, g.float(`${p}.weight`, lin.weight)],
    { transpose_a: { b: false }, transpose_b: { b: false }, T: FLOAT_T },
    `${p}.matmul`,
  );
  if (lin.bias)
    y = g.op("BiasAdd", [y, g.float(`${p}.bias`, lin.bias)], { T: FLOAT_T, data_format: str("NHWC") }, p);
  return lead.length > 0 ? g.op("Reshape", [y, g.int("shape", [-1, ...lead, lin.outFeatures])]) : y;
}

/** As `LayerNorm.forward`: (x - mean)·rsqrt(var + eps)·w + b over the last axis. */
function layerNorm(g: TfGraph, ln: LayerNorm, x: string, p: string): string {
  const eps = (ln as unknown as { options: { eps: number } }).options.eps;
  const axis = g.int("axis", [-1], []);
  const mean = g.op("Mean", [x, axis], { keep_dims: { b: true } });
  const c = g.op("Sub", [x, mean]);
  const variance = g.op("Mean", [g.op("Mul", [c, c]), axis], { keep_dims: { b: true } });
  const normed = g.op("Mul", [c, g.op("Rsqrt", [g.op("AddV2", [variance, g.scalar(eps)])])]);
  return g.op(
    "AddV2",
    [g.op("Mul", [normed, g.float(`${p}.weight`, ln.weight)]), g.float(`${p}.bias`, ln.bias)],
    {},
    p,
  );
}

function gelu(g: TfGraph, x: string): string {
  const cube = g.op("Mul", [g.op("Mul", [x, x]), x]);
  const inner = g.op("Mul", [
    g.op("AddV2", [x, g.op("Mul", [cube, g.scalar(0.044715)])]),
    g.scalar(Math.sqrt(2 / Math.PI)),
  ]);
  return g.op(
    "Mul",
    [g.op("Mul", [x, g.scalar(0.5)]), g.op("AddV2", [g.op("Tanh", [inner]), g.scalar(1)])],
    {},
    "gelu",
  );
}

function attention(g: TfGraph, a: MultiHeadSelfAttention, x: string, t: number, p: string): string {
  const { heads, headDim, dim } = a;
  const qkv = linear(g, a.qkv, x, [t], `${p}.qkv`); // [B, T, 3D]
  const split = g.op("Transpose", [
    g.op("Reshape", [qkv, g.int("shape", [-1, t, 3, heads, headDim])]),
    g.int("perm", [2, 0, 3, 1, 4]),
  ]);
  const [q, k, v] = [0, 1, 2].map((i) =>
    g.op("Reshape", [
      g.op("GatherV2", [split, g.int("index", [i], []), g.int("axis", [0], [])], { batch_dims: { i: "0" } }),
      g.int("shape", [-1, t, headDim]),
    ]),
  ) as [string, string, string];
  const logits = g.op("Mul", [
    g.op("BatchMatMulV2", [q, k], { adj_x: { b: false }, adj_y: { b: true } }),
    g.scalar(1 / Math.sqrt(headDim)),
  ]);
  const out = g.op("BatchMatMulV2", [g.op("Softmax", [logits]), v], {
    adj_x: { b: false },
    adj_y: { b: false },
  }); // [B·h, T, hd]
  const merged = g.op("Reshape", [
    g.op("Transpose", [
      g.op("Reshape", [out, g.int("shape", [-1, heads, t, headDim])]),
      g.int("perm", [0, 2, 1, 3]),
    ]),
    g.int("shape", [-1, t, dim]),
  ]);
  return linear(g, a.proj, merged, [t], `${p}.proj`);
}

function block(g: TfGraph, b: TransformerBlock, x: string, t: number, p: string): string {
  const h = g.op("AddV2", [x, attention(g, b.attn, layerNorm(g, b.norm1, x, `${p}.norm1`), t, `${p}.attn`)]);
  const m = linear(
    g,
    b.fc2,
    gelu(g, linear(g, b.fc1, layerNorm(g, b.norm2, h, `${p}.norm2`), [t], `${p}.fc1`)),
    [t],
    `${p}.fc2`,
  );
  return g.op("AddV2", [h, m], {}, p);
}

function adaptivePool(
  g: TfGraph,
  x: string,
  map: [number, number, number],
  grid: number,
  mode: "avg" | "max",
  where: string,
): string {
  const [h, w, c] = map;
  if (grid === 1 && mode === "avg")
    return g.op("Mean", [x, g.int("axes", [1, 2])], { keep_dims: { b: false } });
  if (h % grid !== 0 || w % grid !== 0)
    throw new OnnxExportError(
      `${where}: no TF.js emitter for adaptive ${mode} pooling of a ${h}x${w} map to a ${grid}x${grid} grid that does not divide it`,
    );
  const win = [1, h / grid, w / grid, 1];
  const pooled = g.op(mode === "max" ? "MaxPool" : "AvgPool", [x], {
    ksize: ints(win),
    strides: ints(win),
    padding: str("VALID"),
    data_format: str("NHWC"),
    T: FLOAT_T,
  });
  return g.op("Reshape", [pooled, g.int("shape", [-1, grid * grid * c])]);
}

// ---------------------------------------------------------------- backbones

function convNet(g: TfGraph, net: ConvNet, x: string, input: { height: number; width: number }): string {
  let h = x;
  let [hh, ww] = [input.height, input.width];
  let c = 0;
  net.blocks.forEach((b, i) => {
    h = relu(g, batchNorm(g, b.bn, conv(g, b.conv, h, `block${i + 1}.conv`), `block${i + 1}.bn`));
    [hh, ww] = [Math.ceil(hh / b.stride), Math.ceil(ww / b.stride)];
    c = b.outChannels;
  });
  if (net.options.pool === "flatten") return g.op("Reshape", [h, g.int("shape", [-1, hh * ww * c])]);
  const grid = Math.min(net.options.grid, hh, ww);
  return adaptivePool(g, h, [hh, ww, c], grid, net.options.pool, "convnet");
}

function resNet(g: TfGraph, net: ResNet, x: string): string {
  let h = relu(g, batchNorm(g, net.stemBn, conv(g, net.stem, x, "stem"), "stem_bn"));
  for (const [name, m] of net.namedChildren()) {
    if (!(m instanceof BasicBlock)) continue;
    const a = relu(g, batchNorm(g, m.bn1, conv(g, m.conv1, h, `${name}.conv1`), `${name}.bn1`));
    const branch = batchNorm(g, m.bn2, conv(g, m.conv2, a, `${name}.conv2`), `${name}.bn2`);
    const skip = m.shortcut
      ? batchNorm(
          g,
          m.shortcut.bn,
          conv(g, m.shortcut.conv, h, `${name}.shortcut_conv`),
          `${name}.shortcut_bn`,
        )
      : h;
    h = relu(g, g.op("AddV2", [branch, skip]));
  }
  return g.op("Mean", [h, g.int("axes", [1, 2])], { keep_dims: { b: false } });
}

function vit(g: TfGraph, v: ViT, x: string, channels: number): string {
  const p = v.patchSize;
  const [gh, gw] = v.grid;
  const n = v.numPatches;
  const d = v.dim;
  const rows = g.op("Reshape", [x, g.int("shape", [-1, p, gw, p * channels])]);
  const patches = g.op("Reshape", [
    g.op("Transpose", [rows, g.int("perm", [0, 2, 1, 3])]),
    g.int("shape", [-1, n, p * p * channels]),
  ]);
  const embedded = linear(g, v.patchEmbed, patches, [n], "patch_embed");
  const pos = v.posEmbed.dataSync() as Float32Array;
  const tokens = g.op("AddV2", [embedded, g.float("pos_embed.patches", pos.slice(d), [1, n, d])]);
  const cls = v.clsToken.dataSync() as Float32Array;
  const clsPos = g.float(
    "cls_token_pos",
    cls.map((c, i) => c + (pos[i] as number)),
    [1, 1, d],
  );
  // [1, 1, D] tiled to the batch: reps [B, 1, 1] from the input's shape
  const batch = g.op("Slice", [g.op("Shape", [x]), g.int("begin", [0]), g.int("size", [1])]);
  const reps = g.op("ConcatV2", [batch, g.int("ones", [1, 1]), g.int("axis", [0], [])], { N: { i: "2" } });
  let h = g.op("ConcatV2", [g.op("Tile", [clsPos, reps]), tokens, g.int("axis", [1], [])], { N: { i: "2" } });
  v.blocks.forEach((b, i) => {
    h = block(g, b, h, n + 1, `block${i}`);
  });
  h = layerNorm(g, v.norm, h, "norm");
  const pool = v.options.pool;
  if (pool === "cls")
    return g.op("Reshape", [
      g.op("Slice", [h, g.int("begin", [0, 0, 0]), g.int("size", [-1, 1, d])]),
      g.int("shape", [-1, d]),
    ]);
  const patchTokens = g.op("Slice", [h, g.int("begin", [0, 1, 0]), g.int("size", [-1, n, d])]);
  if (pool === "flatten") return g.op("Reshape", [patchTokens, g.int("shape", [-1, n * d])]);
  if (v.poolGrid === 1)
    return g.op(pool === "max" ? "Max" : "Mean", [patchTokens, g.int("axis", [1])], {
      keep_dims: { b: false },
    });
  const map = g.op("Reshape", [patchTokens, g.int("shape", [-1, gh, gw, d])]);
  return adaptivePool(g, map, [gh, gw, d], v.poolGrid, pool === "max" ? "max" : "avg", "vit-tiny");
}

export interface TfjsExportOptions {
  input: InputSpec;
  source?: Record<string, unknown>;
}

/** The encoder as a TF.js graph model: file name -> contents (`model.json`, one weight shard). */
export function exportTfjsGraph(
  encoder: FeatureModule,
  opts: TfjsExportOptions,
): Record<string, string | Uint8Array> {
  const { input } = opts;
  if (input.kind !== "image")
    throw new OnnxExportError(
      `no TF.js emitter for ${encoder.constructor.name} on text input yet; TF.js export covers the image backbones ${ONNX_BACKBONES.join(", ")}`,
    );
  const g = new TfGraph();
  const images = g.name("images");
  g.nodes.push({
    name: images,
    op: "Placeholder",
    attr: {
      dtype: FLOAT_T,
      shape: {
        shape: { dim: [-1, input.height, input.width, input.channels].map((s) => ({ size: String(s) })) },
      },
    },
  });
  let out: string;
  if (encoder instanceof ConvNet) out = convNet(g, encoder, images, input);
  else if (encoder instanceof ResNet) out = resNet(g, encoder, images);
  else if (encoder instanceof ViT) out = vit(g, encoder, images, input.channels);
  else
    throw new OnnxExportError(
      `no TF.js emitter for the encoder module ${encoder.constructor.name}; TF.js export covers the backbones ${ONNX_BACKBONES.join(", ")} used as the encoder itself`,
    );
  g.nodes.push({ name: "embedding", op: "Identity", input: [out], attr: { T: FLOAT_T } });
  const total = g.weights.reduce((n, w) => n + w.data.byteLength, 0);
  const shard = new Uint8Array(total);
  let at = 0;
  for (const w of g.weights) {
    shard.set(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength), at);
    at += w.data.byteLength;
  }
  const shardName = "group1-shard1of1.bin";
  const modelJson = {
    format: "graph-model",
    generatedBy: "selfsup",
    convertedBy: "selfsup export --format tfjs",
    modelTopology: { node: g.nodes, library: {}, versions: { producer: 1 } },
    weightsManifest: [
      { paths: [shardName], weights: g.weights.map(({ name, shape, dtype }) => ({ name, shape, dtype })) },
    ],
    userDefinedMetadata: {
      input: { name: "images", layout: "NHWC", dtype: "float32", range: [0, 1], ...input },
      output: { name: "embedding", dim: encoder.outputDim },
      ...(opts.source ? { source: opts.source } : {}),
    },
  };
  return { "model.json": JSON.stringify(modelJson), [shardName]: shard };
}
