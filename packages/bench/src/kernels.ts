/**
 * Training-kernel micro-benchmarks: GFLOP/s of the convolution forward pass, its input gradient
 * and its filter gradient, and of matMul (plain and in the two transposed forms a dense layer's
 * backward pass uses), at the convolution shapes of ResNet-18 for CIFAR (each stage does the same
 * FLOPs: 32x32x64, 16x16x128, 8x8x256, 4x4x512, plus the stride-2 stage transition).
 *
 * Why these: training a convnet spends nearly all its time in these three convolution kernels,
 * and on wasm two of them are selfsup's (src/backend/wasm-kernels), so the table shows whether
 * backward runs at forward speed. The cpu backend is ~1000x slower, so it gets batch 1, narrower
 * layers, small matrices and one repetition. Figures only: nothing asserts on time.
 */
import { registerWasmTrainingKernels, tf } from "@selfsup/core";

export interface KernelBenchRow {
  backend: string;
  /** "conv2d", "conv2d input-grad", "conv2d filter-grad", "matMul", "matMul A^T", "matMul B^T" */
  op: string;
  /** e.g. "32x32x64->64 3x3 s1" or "512x512x512" */
  shape: string;
  batch: number;
  /** multiply-adds x 2 per call */
  flop: number;
  /** median wall-clock milliseconds per call */
  ms: number;
  /** median process CPU milliseconds per call (robust to other load on the machine) */
  cpuMs: number;
  gflops: number;
  /** time of this kernel over the forward conv of the same shape (convolution gradients only) */
  vsForward?: number;
}

/** Short name for a row of the kernel table. */
export type Row = KernelBenchRow;

export interface BenchKernelsOptions {
  /** Backends to measure (default: wasm and cpu). The current backend is restored afterwards. */
  backends?: string[];
  /** Batch 32 instead of 128 on wasm, fewer repetitions. */
  quick?: boolean;
  /** Progress lines (e.g. console.log). */
  log?: (line: string) => void;
}

interface ConvShape {
  hw: number;
  cin: number;
  cout: number;
  stride: number;
}

const CONV_SHAPES: ConvShape[] = [
  { hw: 32, cin: 64, cout: 64, stride: 1 },
  { hw: 32, cin: 64, cout: 128, stride: 2 },
  { hw: 16, cin: 128, cout: 128, stride: 1 },
  { hw: 8, cin: 256, cout: 256, stride: 1 },
  { hw: 4, cin: 512, cout: 512, stride: 1 },
];

/**
 * The cpu backend's Conv2DBackpropFilter runs at ~0.006 GFLOP/s (50-100x slower than its own
 * forward conv), so a single ResNet-size call takes 10+ s: it gets narrower layers of the same
 * spatial sizes.
 */
const CPU_CONV_SHAPES: ConvShape[] = [
  { hw: 8, cin: 32, cout: 32, stride: 1 },
  { hw: 8, cin: 32, cout: 64, stride: 2 },
  { hw: 16, cin: 32, cout: 32, stride: 1 },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs `f` (which must read its result back, so that lazy backends finish) `reps` times after a warm-up. */
function timeIt(f: () => tf.Tensor, reps: number): { ms: number; cpuMs: number } {
  const run = () =>
    tf.tidy(() => {
      f().dataSync();
    });
  run(); // warm-up: operator creation, memory growth
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    run();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { ms: median(wall), cpuMs: median(cpu) };
}

async function loadBackend(name: string): Promise<void> {
  if (name === "wasm") {
    await import("@tensorflow/tfjs-backend-wasm");
    registerWasmTrainingKernels();
  } else if (name === "cpu") {
    await import("@tensorflow/tfjs-backend-cpu");
  }
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} did not initialise`);
  await tf.ready();
}

/** Seeded-free filler: values need not be random for timing, only finite and non-trivial. */
function filled(shape: number[], scale = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (((i * 2654435761) >>> 0) / 4294967296 - 0.5) * scale;
  return tf.tensor(v, shape);
}

export async function benchKernels(opts: BenchKernelsOptions = {}): Promise<KernelBenchRow[]> {
  const backends = opts.backends ?? ["wasm", "cpu"];
  const quick = opts.quick ?? false;
  const log = opts.log ?? (() => {});
  const previous = tf.getBackend();
  const rows: KernelBenchRow[] = [];
  try {
    for (const backend of backends) {
      await loadBackend(backend);
      const slow = backend === "cpu";
      const batch = slow ? 1 : quick ? 32 : 128;
      const reps = slow ? 1 : quick ? 2 : 3;
      const shapes = slow ? (quick ? CPU_CONV_SHAPES.slice(0, 2) : CPU_CONV_SHAPES) : CONV_SHAPES;
      for (const c of shapes) {
        const shape = `${c.hw}x${c.hw}x${c.cin}->${c.cout} 3x3 s${c.stride}`;
        log(`  ${backend}: conv ${shape}, batch ${batch}`);
        const x = filled([batch, c.hw, c.hw, c.cin]);
        const w = filled([3, 3, c.cin, c.cout], 0.1);
        const oh = Math.ceil(c.hw / c.stride);
        const dy = filled([batch, oh, oh, c.cout]);
        const flop = 2 * batch * oh * oh * c.cout * 9 * c.cin;
        const xShape = x.shape as [number, number, number, number];
        const attrs = { strides: c.stride, pad: "same", dataFormat: "NHWC" };
        const fwd = timeIt(() => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, "same"), reps);
        const inGrad = timeIt(
          () =>
            tf
              .engine()
              .runKernel(
                "Conv2DBackpropInput",
                { dy, filter: w },
                { ...attrs, inputShape: xShape },
              ) as tf.Tensor,
          reps,
        );
        const fGrad = timeIt(
          () =>
            tf
              .engine()
              .runKernel("Conv2DBackpropFilter", { x, dy }, { ...attrs, filterShape: w.shape }) as tf.Tensor,
          reps,
        );
        for (const [op, t] of [
          ["conv2d", fwd],
          ["conv2d input-grad", inGrad],
          ["conv2d filter-grad", fGrad],
        ] as const) {
          rows.push({
            backend,
            op,
            shape,
            batch,
            flop,
            ms: t.ms,
            cpuMs: t.cpuMs,
            gflops: flop / t.ms / 1e6,
            vsForward: op === "conv2d" ? undefined : t.ms / fwd.ms,
          });
        }
        tf.dispose([x, w, dy]);
      }
      const n = slow ? 128 : 512;
      const a = filled([n, n]);
      const b = filled([n, n]);
      const flop = 2 * n * n * n;
      for (const [op, ta, tb] of [
        ["matMul", false, false],
        ["matMul A^T", true, false],
        ["matMul B^T", false, true],
      ] as const) {
        log(`  ${backend}: ${op} ${n}^3`);
        const t = timeIt(() => tf.matMul(a, b, ta, tb), slow ? 1 : reps * 2);
        rows.push({
          backend,
          op,
          shape: `${n}x${n}x${n}`,
          batch: 1,
          flop,
          ms: t.ms,
          cpuMs: t.cpuMs,
          gflops: flop / t.ms / 1e6,
        });
      }
      tf.dispose([a, b]);
    }
  } finally {
    if (previous && tf.getBackend() !== previous) await tf.setBackend(previous);
  }
  return rows;
}

/** A fixed-width text table of benchKernels' rows. */
export function formatKernelTable(rows: KernelBenchRow[]): string {
  const header = ["backend", "kernel", "shape", "batch", "ms", "cpu ms", "GFLOP/s", "x fwd"];
  const body = rows.map((r) => [
    r.backend,
    r.op,
    r.shape,
    String(r.batch),
    r.ms.toFixed(1),
    r.cpuMs.toFixed(1),
    r.gflops < 1 ? r.gflops.toFixed(3) : r.gflops.toFixed(1),
    r.vsForward === undefined ? "" : r.vsForward.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const numeric = new Set([3, 4, 5, 6, 7]);
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(fmt)].join("\n");
}
