/**
 * ONNX export of an encoder built from our own modules: one graph emitter per layer kind
 * (Conv2d, BatchNorm, Linear, LayerNorm, multi-head attention, transformer block) and per
 * backbone (convnet, resnet18, vit-tiny), written as an ONNX ModelProto (opset 17, IR version 8)
 * with `onnx-proto`'s protobuf.js classes.
 *
 * The model takes what the encoder takes: `images` [batch, H, W, C] float32 in [0, 1] (NHWC, no
 * mean/std normalisation: the run trained on the dataset's pixel values), and gives `embedding`
 * [batch, outputDim] float32, the same numbers as the encoder's eval-mode forward. The input spec
 * is also in the model's metadata (`selfsup.input`), with the encoder's source (`selfsup.source`).
 *
 * A module with no emitter is refused with an error naming it (`OnnxExportError`), never
 * exported as a different model.
 */
import onnxProto from "onnx-proto";
import { ConvNet } from "../nn/backbones/convnet.js";
import { BasicBlock, ResNet } from "../nn/backbones/resnet.js";
import { TextTransformer } from "../nn/backbones/text-transformer.js";
import { ViT } from "../nn/backbones/vit.js";
import type { MultiHeadSelfAttention } from "../nn/layers/attention.js";
import type { BatchNorm } from "../nn/layers/batch-norm.js";
import type { Conv2d } from "../nn/layers/conv2d.js";
import type { LayerNorm } from "../nn/layers/layer-norm.js";
import type { Linear } from "../nn/layers/linear.js";
import type { TransformerBlock } from "../nn/layers/transformer-block.js";
import type { FeatureModule, Module } from "../nn/module.js";
import type { InputSpec } from "../plugin/types.js";
import { tf } from "../tf.js";

const { onnx } = onnxProto;

export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;
/** Backbones with an emitter. */
export const ONNX_BACKBONES = ["convnet", "resnet18", "vit-tiny", "text-transformer"] as const;

export class OnnxExportError extends Error {
  override name = "OnnxExportError";
}

const FLOAT = 1;
const INT32 = 6;
const INT64 = 7;

type AttrValue = number | number[] | { f: number };

/** A growing ONNX graph: nodes, initialisers (weights as raw little-endian data), unique names. */
export class OnnxGraph {
  readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly used = new Set<string>();

  name(base: string): string {
    let n = base.replace(/[^A-Za-z0-9_.]/g, "_");
    for (let i = 1; this.used.has(n); i++) n = `${base}_${i}`;
    this.used.add(n);
    return n;
  }

  /** A float32 initialiser. */
  float(base: string, data: ArrayLike<number>, dims: number[]): string {
    const name = this.name(base);
    const values = Float32Array.from(data);
    if (values.length !== dims.reduce((a, b) => a * b, 1))
      throw new OnnxExportError(
        `internal: initializer ${name} has ${values.length} values for dims [${dims}]`,
      );
    this.initializers.push(
      onnx.TensorProto.create({
        name,
        dims,
        dataType: FLOAT,
        rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
      }),
    );
    return name;
  }

  /** An int64 initialiser (shapes, axes, indices). dims [] is a scalar. */
  int64(base: string, data: number[], dims: number[] = [data.length]): string {
    const name = this.name(base);
    const values = BigInt64Array.from(data.map((v) => BigInt(v)));
    this.initializers.push(
      onnx.TensorProto.create({
        name,
        dims,
        dataType: INT64,
        rawData: new Uint8Array(values.buffer),
      }),
    );
    return name;
  }

  /** A tensor's values as a float32 initialiser, optionally transposed first. */
  tensor(base: string, t: tf.Tensor, perm?: number[]): string {
    const v = tf.tidy(() => (perm ? tf.transpose(t, perm) : t.clone()));
    try {
      return this.float(base, v.dataSync() as Float32Array, v.shape);
    } finally {
      v.dispose();
    }
  }

  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, base = opType): string {
    const out = this.name(base);
    const attribute = Object.entries(attrs).map(([name, v]) => {
      if (Array.isArray(v)) return onnx.AttributeProto.create({ name, type: 7, ints: v });
      if (typeof v === "object") return onnx.AttributeProto.create({ name, type: 1, f: v.f });
      return onnx.AttributeProto.create({ name, type: 2, i: v });
    });
    this.nodes.push(onnx.NodeProto.create({ opType, input: inputs, output: [out], name: out, attribute }));
    return out;
  }
}

/** A value in the graph: its name and its shape without the batch axis (NCHW maps: [C, H, W]). */
interface Value {
  name: string;
  shape: number[];
}

function scalar(g: OnnxGraph, v: number): string {
  return g.float("const", [v], []);
}

// ---------------------------------------------------------------- layer emitters (NCHW maps)

/** Conv2d: TensorFlow's "same" padding made explicit (the extra row/column goes after, as TF does). */
function emitConv(g: OnnxGraph, conv: Conv2d, x: Value, prefix: string): Value {
  const [c, h, w] = x.shape as [number, number, number];
  if (c !== conv.inChannels)
    throw new OnnxExportError(`${prefix}: Conv2d expects ${conv.inChannels} channels, the graph has ${c}`);
  const k = conv.kernelSize;
  const s = conv.stride;
  const padding = (conv as unknown as { options: { padding: "same" | "valid" } }).options.padding;
  const pads = [0, 0, 0, 0];
  let [oh, ow] = [Math.floor((h - k) / s) + 1, Math.floor((w - k) / s) + 1];
  if (padding === "same") {
    [oh, ow] = [Math.ceil(h / s), Math.ceil(w / s)];
    const th = Math.max((oh - 1) * s + k - h, 0);
    const tw = Math.max((ow - 1) * s + k - w, 0);
    pads.splice(
      0,
      4,
      Math.floor(th / 2),
      Math.floor(tw / 2),
      th - Math.floor(th / 2),
      tw - Math.floor(tw / 2),
    );
  }
  const inputs = [x.name, g.tensor(`${prefix}.weight`, conv.weight, [3, 2, 0, 1])];
  if (conv.bias) inputs.push(g.tensor(`${prefix}.bias`, conv.bias));
  const y = g.op("Conv", inputs, { kernel_shape: [k, k], strides: [s, s], pads, dilations: [1, 1] }, prefix);
  return { name: y, shape: [conv.outChannels, oh, ow] };
}

/** BatchNorm in eval mode: the running statistics (over the channel axis 1 of NCHW or [N, C]). */
function emitBatchNorm(g: OnnxGraph, bn: BatchNorm, x: Value, prefix: string): Value {
  const c = bn.numFeatures;
  const eps = (bn as unknown as { options: { eps: number } }).options.eps;
  const scale = bn.weight
    ? g.tensor(`${prefix}.weight`, bn.weight)
    : g.float(`${prefix}.weight`, new Float32Array(c).fill(1), [c]);
  const bias = bn.bias
    ? g.tensor(`${prefix}.bias`, bn.bias)
    : g.float(`${prefix}.bias`, new Float32Array(c), [c]);
  const y = g.op(
    "BatchNormalization",
    [
      x.name,
      scale,
      bias,
      g.tensor(`${prefix}.running_mean`, bn.runningMean),
      g.tensor(`${prefix}.running_var`, bn.runningVar),
    ],
    { epsilon: { f: eps } },
    prefix,
  );
  return { name: y, shape: x.shape };
}

function relu(g: OnnxGraph, x: Value): Value {
  return { name: g.op("Relu", [x.name]), shape: x.shape };
}

/** y = x·W + b over the last axis (W is [in, out], as ONNX's MatMul wants it). */
function emitLinear(g: OnnxGraph, lin: Linear, x: Value, prefix: string): Value {
  let y = g.op("MatMul", [x.name, g.tensor(`${prefix}.weight`, lin.weight)], {}, `${prefix}.matmul`);
  if (lin.bias) y = g.op("Add", [y, g.tensor(`${prefix}.bias`, lin.bias)], {}, prefix);
  return { name: y, shape: [...x.shape.slice(0, -1), lin.outFeatures] };
}

function emitLayerNorm(g: OnnxGraph, ln: LayerNorm, x: Value, prefix: string): Value {
  const eps = (ln as unknown as { options: { eps: number } }).options.eps;
  const y = g.op(
    "LayerNormalization",
    [x.name, g.tensor(`${prefix}.weight`, ln.weight), g.tensor(`${prefix}.bias`, ln.bias)],
    { axis: -1, epsilon: { f: eps } },
    prefix,
  );
  return { name: y, shape: x.shape };
}

/** GELU, tanh approximation, exactly as `nn/layers/activations.ts` computes it. */
function emitGelu(g: OnnxGraph, x: Value): Value {
  const cube = g.op("Mul", [g.op("Mul", [x.name, x.name]), x.name]);
  const inner = g.op("Mul", [
    g.op("Add", [x.name, g.op("Mul", [cube, scalar(g, 0.044715)])]),
    scalar(g, Math.sqrt(2 / Math.PI)),
  ]);
  const y = g.op(
    "Mul",
    [g.op("Mul", [x.name, scalar(g, 0.5)]), g.op("Add", [g.op("Tanh", [inner]), scalar(g, 1)])],
    {},
    "gelu",
  );
  return { name: y, shape: x.shape };
}

/** Self-attention over [B, T, D]: heads split by reshape/transpose, softmax(QKᵀ/√d)·V, projection. */
function emitAttention(
  g: OnnxGraph,
  attn: MultiHeadSelfAttention,
  x: Value,
  prefix: string,
  penalty?: string,
): Value {
  const [t, d] = x.shape as [number, number];
  const { heads, headDim } = attn;
  const qkv = emitLinear(g, attn.qkv, x, `${prefix}.qkv`);
  const split = g.op("Reshape", [qkv.name, g.int64("shape", [0, 0, 3, heads, headDim])]);
  const perm = g.op("Transpose", [split], { perm: [2, 0, 3, 1, 4] }); // [3, B, heads, T, hd]
  const [q, k, v] = [0, 1, 2].map((i) => g.op("Gather", [perm, g.int64("index", [i], [])], { axis: 0 }));
  const kt = g.op("Transpose", [k as string], { perm: [0, 1, 3, 2] });
  let logits = g.op("Mul", [g.op("MatMul", [q as string, kt]), scalar(g, 1 / Math.sqrt(headDim))]);
  if (penalty) logits = g.op("Add", [logits, penalty]); // [B, 1, 1, T]: -1e9 on padded keys
  const out = g.op("MatMul", [g.op("Softmax", [logits], { axis: -1 }), v as string]); // [B, heads, T, hd]
  const merged = g.op("Reshape", [
    g.op("Transpose", [out], { perm: [0, 2, 1, 3] }),
    g.int64("shape", [0, 0, d]),
  ]);
  return emitLinear(g, attn.proj, { name: merged, shape: [t, d] }, `${prefix}.proj`);
}

function emitTransformerBlock(
  g: OnnxGraph,
  block: TransformerBlock,
  x: Value,
  prefix: string,
  penalty?: string,
): Value {
  const a = emitAttention(
    g,
    block.attn,
    emitLayerNorm(g, block.norm1, x, `${prefix}.norm1`),
    `${prefix}.attn`,
    penalty,
  );
  const h = { name: g.op("Add", [x.name, a.name]), shape: x.shape };
  const m = emitLinear(
    g,
    block.fc2,
    emitGelu(
      g,
      emitLinear(g, block.fc1, emitLayerNorm(g, block.norm2, h, `${prefix}.norm2`), `${prefix}.fc1`),
    ),
    `${prefix}.fc2`,
  );
  return { name: g.op("Add", [h.name, m.name], {}, prefix), shape: x.shape };
}

// ---------------------------------------------------------------- pooling

/** An NCHW map -> the NHWC-ordered flat vector tfjs' reshape gives. */
function flattenNhwc(g: OnnxGraph, x: Value): Value {
  const nhwc = g.op("Transpose", [x.name], { perm: [0, 2, 3, 1] });
  const size = x.shape.reduce((a, b) => a * b, 1);
  return { name: g.op("Flatten", [nhwc], { axis: 1 }), shape: [size] };
}

/** Adaptive avg/max pooling to grid x grid (the grid must divide the map, the case of one window). */
function emitAdaptivePool(g: OnnxGraph, x: Value, grid: number, mode: "avg" | "max", where: string): Value {
  const [c, h, w] = x.shape as [number, number, number];
  if (grid === 1 && mode === "avg")
    return { name: g.op("ReduceMean", [x.name], { axes: [2, 3], keepdims: 0 }), shape: [c] };
  if (h % grid !== 0 || w % grid !== 0)
    throw new OnnxExportError(
      `${where}: no ONNX emitter for adaptive ${mode} pooling of a ${h}x${w} map to a ${grid}x${grid} grid that does not divide it (use a grid that divides the last map, or pool "avg" with grid 1)`,
    );
  const window = [h / grid, w / grid];
  const pooled = g.op(mode === "max" ? "MaxPool" : "AveragePool", [x.name], {
    kernel_shape: window,
    strides: window,
  });
  return flattenNhwc(g, { name: pooled, shape: [c, grid, grid] });
}

// ---------------------------------------------------------------- backbone emitters

function emitConvNet(g: OnnxGraph, net: ConvNet, x: Value): Value {
  let h = x;
  net.blocks.forEach((block, i) => {
    const p = `block${i + 1}`;
    h = relu(g, emitBatchNorm(g, block.bn, emitConv(g, block.conv, h, `${p}.conv`), `${p}.bn`));
  });
  const { pool } = net.options;
  if (pool === "flatten") return flattenNhwc(g, h);
  const grid = Math.min(net.options.grid, h.shape[1] as number, h.shape[2] as number);
  return emitAdaptivePool(g, h, grid, pool, "convnet");
}

function emitBasicBlock(g: OnnxGraph, block: BasicBlock, x: Value, p: string): Value {
  const h = relu(g, emitBatchNorm(g, block.bn1, emitConv(g, block.conv1, x, `${p}.conv1`), `${p}.bn1`));
  const branch = emitBatchNorm(g, block.bn2, emitConv(g, block.conv2, h, `${p}.conv2`), `${p}.bn2`);
  const skip = block.shortcut
    ? emitBatchNorm(
        g,
        block.shortcut.bn,
        emitConv(g, block.shortcut.conv, x, `${p}.shortcut_conv`),
        `${p}.shortcut_bn`,
      )
    : x;
  return relu(g, { name: g.op("Add", [branch.name, skip.name]), shape: branch.shape });
}

function emitResNet(g: OnnxGraph, net: ResNet, x: Value): Value {
  let h = relu(g, emitBatchNorm(g, net.stemBn, emitConv(g, net.stem, x, "stem"), "stem_bn"));
  const names = net.namedChildren().filter(([, m]) => m instanceof BasicBlock);
  for (const [name, block] of names) h = emitBasicBlock(g, block as BasicBlock, h, name);
  return emitAdaptivePool(g, h, 1, "avg", "resnet18");
}

/** vit-tiny from NHWC images (its patchify is on the NHWC layout, so no transpose first). */
function emitViT(
  g: OnnxGraph,
  vit: ViT,
  images: string,
  input: Extract<InputSpec, { kind: "image" }>,
): Value {
  const p = vit.patchSize;
  const [gh, gw] = vit.grid;
  const n = vit.numPatches;
  const d = vit.dim;
  const c = input.channels;
  const rows = g.op("Reshape", [images, g.int64("shape", [-1, p, gw, p * c])]); // [B·gh, p, gw, p·c]
  const patches = g.op("Reshape", [
    g.op("Transpose", [rows], { perm: [0, 2, 1, 3] }),
    g.int64("shape", [-1, n, p * p * c]),
  ]);
  const embedded = emitLinear(g, vit.patchEmbed, { name: patches, shape: [n, p * p * c] }, "patch_embed");
  const pos = vit.posEmbed.dataSync() as Float32Array; // [1, 1 + N, D]
  const tokens = g.op("Add", [embedded.name, g.float("pos_embed.patches", pos.subarray(d), [1, n, d])]);
  const cls = vit.clsToken.dataSync() as Float32Array;
  const clsPos = g.float(
    "cls_token_pos",
    cls.map((v, i) => v + (pos[i] as number)),
    [1, 1, d],
  );
  const batch = g.op("Gather", [g.op("Shape", [images]), g.int64("index", [0])], { axis: 0 }); // [1]: B
  const clsShape = g.op("Concat", [batch, g.int64("shape", [1, d])], { axis: 0 });
  let h: Value = {
    name: g.op("Concat", [g.op("Expand", [clsPos, clsShape]), tokens], { axis: 1 }),
    shape: [1 + n, d],
  };
  vit.blocks.forEach((block, i) => {
    h = emitTransformerBlock(g, block, h, `block${i}`);
  });
  h = emitLayerNorm(g, vit.norm, h, "norm");
  const { pool } = vit.options;
  if (pool === "cls")
    return { name: g.op("Gather", [h.name, g.int64("index", [0], [])], { axis: 1 }), shape: [d] };
  const patchTokens = g.op("Slice", [
    h.name,
    g.int64("start", [1]),
    g.int64("end", [1 + n]),
    g.int64("axes", [1]),
  ]);
  if (pool === "flatten")
    return { name: g.op("Reshape", [patchTokens, g.int64("shape", [-1, n * d])]), shape: [n * d] };
  if (vit.poolGrid === 1)
    return {
      name: g.op(pool === "max" ? "ReduceMax" : "ReduceMean", [patchTokens], { axes: [1], keepdims: 0 }),
      shape: [d],
    };
  const map = g.op("Transpose", [g.op("Reshape", [patchTokens, g.int64("shape", [-1, gh, gw, d])])], {
    perm: [0, 3, 1, 2],
  });
  return emitAdaptivePool(
    g,
    { name: map, shape: [d, gh, gw] },
    vit.poolGrid,
    pool === "max" ? "max" : "avg",
    "vit-tiny",
  );
}

/**
 * text-transformer from int32 token ids [B, T] (T = the built seqLen): embedding gather, learned
 * positions, optional class token, blocks with the padding mask as a key penalty, final norm, then
 * the class token or the mean over non-padding tokens.
 */
function emitTextTransformer(g: OnnxGraph, net: TextTransformer, tokens: string, seqLen: number): Value {
  const d = net.dim;
  const t = seqLen;
  const cls = net.clsToken !== undefined;
  const ids = g.op("Cast", [tokens], { to: INT64 });
  const embedded = g.op("Gather", [g.tensor("embed.weight", net.embed.weight), ids], { axis: 0 }); // [B, T, D]
  const pos = net.posEmbed.dataSync() as Float32Array;
  const offset = cls ? 1 : 0;
  let h = g.op("Add", [
    embedded,
    g.float("pos_embed.tokens", pos.subarray(offset * d, (offset + t) * d), [1, t, d]),
  ]);
  const padId = net.options.padId;
  let padding: string | undefined; // [B, T'] float, 1 = padding
  if (padId !== null)
    padding = g.op("Cast", [g.op("Equal", [ids, g.int64("pad_id", [padId], [])])], { to: FLOAT });
  const batch = g.op("Gather", [g.op("Shape", [tokens]), g.int64("index", [0])], { axis: 0 });
  if (net.clsToken) {
    const c = net.clsToken.dataSync() as Float32Array;
    const clsPos = g.float(
      "cls_token_pos",
      c.map((v, i) => v + (pos[i] as number)),
      [1, 1, d],
    );
    const shape = g.op("Concat", [batch, g.int64("shape", [1, d])], { axis: 0 });
    h = g.op("Concat", [g.op("Expand", [clsPos, shape]), h], { axis: 1 });
    if (padding) {
      const zshape = g.op("Concat", [batch, g.int64("shape", [1])], { axis: 0 });
      const zeros = g.op("Expand", [scalar(g, 0), zshape]);
      padding = g.op("Concat", [zeros, padding], { axis: 1 });
    }
  }
  const total = t + offset;
  const penalty = padding
    ? g.op("Reshape", [g.op("Mul", [padding, scalar(g, -1e9)]), g.int64("shape", [-1, 1, 1, total])])
    : undefined;
  let v: Value = { name: h, shape: [total, d] };
  net.blocks.forEach((block, i) => {
    v = emitTransformerBlock(g, block, v, `block${i}`, penalty);
  });
  v = emitLayerNorm(g, net.norm, v, "norm");
  if (cls) return { name: g.op("Gather", [v.name, g.int64("index", [0], [])], { axis: 1 }), shape: [d] };
  if (!padding) return { name: g.op("ReduceMean", [v.name], { axes: [1], keepdims: 0 }), shape: [d] };
  const keep = g.op("Unsqueeze", [g.op("Sub", [scalar(g, 1), padding]), g.int64("axes", [2])]); // [B, T, 1]
  const sum = g.op("ReduceSum", [g.op("Mul", [v.name, keep]), g.int64("axes", [1])], { keepdims: 0 });
  const count = g.op("Max", [g.op("ReduceSum", [keep, g.int64("axes", [1])], { keepdims: 0 }), scalar(g, 1)]);
  return { name: g.op("Div", [sum, count]), shape: [d] };
}

// ---------------------------------------------------------------- the model

export interface OnnxExportOptions {
  /** The encoder's input (image only; text backbones have no emitter yet). */
  input: InputSpec;
  /** Free-form facts written into the model's metadata as `selfsup.source` (run, method, backbone...). */
  source?: Record<string, unknown>;
  /** Model doc string. */
  docString?: string;
}

function describeModule(m: Module): string {
  return m.constructor.name;
}

/**
 * The encoder as ONNX bytes. Throws `OnnxExportError` naming the module when there is no emitter
 * for it (a text backbone, an MLP, a method's own wrapper module).
 */
export function exportOnnx(encoder: FeatureModule, opts: OnnxExportOptions): Uint8Array {
  const { input } = opts;
  const g = new OnnxGraph();
  const inputName = input.kind === "image" ? "images" : "tokens";
  g.name(inputName);
  let out: Value;
  if (input.kind === "text") {
    if (!(encoder instanceof TextTransformer))
      throw new OnnxExportError(
        `no ONNX emitter for the text encoder module ${describeModule(encoder)}; ONNX export covers the backbones ${ONNX_BACKBONES.join(", ")} used as the encoder itself`,
      );
    out = emitTextTransformer(g, encoder, inputName, input.seqLen);
  } else {
    const images = inputName;
    const nchw = (): Value => ({
      name: g.op("Transpose", [images], { perm: [0, 3, 1, 2] }, "nchw"),
      shape: [input.channels, input.height, input.width],
    });
    if (encoder instanceof ConvNet) out = emitConvNet(g, encoder, nchw());
    else if (encoder instanceof ResNet) out = emitResNet(g, encoder, nchw());
    else if (encoder instanceof ViT) {
      if (encoder.input.height !== input.height || encoder.input.width !== input.width)
        throw new OnnxExportError(
          `vit-tiny was built for ${encoder.input.height}x${encoder.input.width} images (its position embeddings are per patch), not ${input.height}x${input.width}`,
        );
      out = emitViT(g, encoder, images, input);
    } else
      throw new OnnxExportError(
        `no ONNX emitter for the encoder module ${describeModule(encoder)} (children: ${
          encoder
            .namedChildren()
            .map(([n, m]) => `${n}: ${describeModule(m)}`)
            .join(", ") || "none"
        }); ONNX export covers the backbones ${ONNX_BACKBONES.join(", ")} used as the encoder itself`,
      );
  }
  if (out.shape.reduce((a, b) => a * b, 1) !== encoder.outputDim)
    throw new OnnxExportError(
      `internal: the ONNX graph of ${describeModule(encoder)} gives ${out.shape.reduce((a, b) => a * b, 1)} features, the encoder ${encoder.outputDim}`,
    );
  g.nodes.push(
    onnx.NodeProto.create({
      opType: "Identity",
      input: [out.name],
      output: ["embedding"],
      name: "embedding",
    }),
  );
  const dim = (v: number | string) => (typeof v === "number" ? { dimValue: v } : { dimParam: v });
  const valueInfo = (name: string, elemType: number, dims: Array<number | string>) =>
    onnx.ValueInfoProto.create({
      name,
      type: { tensorType: { elemType, shape: { dim: dims.map(dim) } } },
    });
  const graph = onnx.GraphProto.create({
    name: "selfsup_encoder",
    node: g.nodes,
    initializer: g.initializers,
    input: [
      input.kind === "image"
        ? valueInfo(inputName, FLOAT, ["batch", input.height, input.width, input.channels])
        : valueInfo(inputName, INT32, ["batch", input.seqLen]),
    ],
    output: [valueInfo("embedding", FLOAT, ["batch", encoder.outputDim])],
  });
  const inputMeta =
    input.kind === "image"
      ? {
          name: inputName,
          layout: "NHWC",
          dtype: "float32",
          height: input.height,
          width: input.width,
          channels: input.channels,
          range: [0, 1],
          normalization: "none: pixel values scaled to [0, 1], as the run's dataset gave them",
          resize: "to height x width (image-folder runs: centre crop to the aspect ratio, then resize)",
        }
      : {
          name: inputName,
          layout: "[batch, seqLen]",
          dtype: "int32",
          seqLen: input.seqLen,
          vocabSize: input.vocabSize,
          tokenizer: "the run's (text-lines: its tokenizer options; [CLS] first when cls, [PAD] after)",
        };
  const what =
    input.kind === "image"
      ? `images [batch, ${input.height}, ${input.width}, ${input.channels}] float32 NHWC in [0, 1]`
      : `token ids [batch, ${input.seqLen}] int32`;
  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    producerName: "selfsup",
    producerVersion: "0.1.0",
    docString: opts.docString ?? `selfsup encoder: ${what} -> embedding [batch, ${encoder.outputDim}]`,
    graph,
    metadataProps: [
      { key: "selfsup.input", value: JSON.stringify(inputMeta) },
      { key: "selfsup.output", value: JSON.stringify({ name: "embedding", dim: encoder.outputDim }) },
      ...(opts.source ? [{ key: "selfsup.source", value: JSON.stringify(opts.source) }] : []),
    ],
  });
  return onnx.ModelProto.encode(model).finish();
}
