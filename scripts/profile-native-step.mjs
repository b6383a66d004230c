#!/usr/bin/env node
/**
 * Where a SimCLR step's CPU goes on the native tensorflow backend (issue 30): the bench recipe's
 * step (convnet width 32, max-pooled 2x2 grid, MNIST digits, the digits augmentation, AdamW 2e-3
 * cosine), CPU ms per step from process.cpuUsage (the machine is shared: wall time is noise), the
 * TensorFlow ops per step by name with the CPU each took (the binding's executeOp wrapped; CPU
 * profilers crash this libtensorflow within a few steps), the augmentation's share, and a hash of
 * the weights at the end (equal hashes: the same training bit for bit).
 *
 *   pnpm build && SELFSUP_NATIVE_DIR=<dir> node scripts/profile-native-step.mjs [batch=64] [steps=40] [augment=1]
 *
 * SELFSUP_FLAT_OPTIMIZER=0|1 and TF_* variables apply as usual; run two builds or settings in
 * alternation and compare the CPU figures.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import { pathToFileURL } from "node:url";

const root = path.resolve(import.meta.dirname, "..");
const batch = Number(process.argv[2] ?? 64);
const steps = Number(process.argv[3] ?? 40);
const augment = (process.argv[4] ?? "1") === "1";
const load = (p) => import(pathToFileURL(path.join(root, p)).href);
const core = await load("packages/core/dist/index.js");
const contrastive = await load("packages/method-contrastive/dist/index.js");
const { tf } = core;

await core.initBackend("tensorflow");
const registry = core.createRegistry();
registry.register(contrastive.contrastivePlugin);
const full = await core.loadMnist();
const needed = batch * (steps + 2);
if (needed > full.train.size)
  throw new Error(`batch ${batch} x ${steps} steps needs ${needed} digits; there are ${full.train.size}`);
const data = { ...full, train: core.subsetSplit(full.train, [...Array(needed).keys()]), test: undefined };
const method = registry.create(
  "method",
  "simclr",
  {},
  core.methodBuildContext({
    registry,
    input: data.input,
    rng: new core.Rng(0),
    backbone: { name: "convnet", options: { width: 32, pool: "max", grid: 2 } },
  }),
);
const pipeline = core.buildPipeline(registry, method.defaultAugmentation?.(data.input) ?? []);

// Count and time every TensorFlow op: the binding's executeOp is read-only, so the backend gets a
// binding object that inherits the rest.
const cpuMs = (since) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};
const backend = tf.backend();
const binding = backend.binding;
const ops = new Map();
let counting = false;
const wrapped = Object.create(binding);
Object.defineProperty(wrapped, "executeOp", {
  value: (name, ...rest) => {
    if (!counting) return binding.executeOp(name, ...rest);
    const start = process.cpuUsage();
    try {
      return binding.executeOp(name, ...rest);
    } finally {
      const o = ops.get(name) ?? { n: 0, ms: 0 };
      o.n += 1;
      o.ms += cpuMs(start);
      ops.set(name, o);
    }
  },
});
backend.binding = wrapped;

const marks = [];
let augmentMs = 0;
let augmentSteps = 0;
const trainer = new core.Trainer({
  method,
  dataset: data,
  config: {
    epochs: 1,
    maxSteps: steps,
    batchSize: batch,
    seed: 0,
    optimizer: { name: "adamw", lr: 2e-3, weightDecay: 1e-4 },
    schedule: { name: "cosine", warmupSteps: 10 },
  },
  ...(augment
    ? {
        augment: (x, n, rng) => {
          const start = process.cpuUsage();
          const views = core.makeViews(pipeline, x, n, rng);
          if (counting) {
            augmentMs += cpuMs(start);
            augmentSteps += 1;
          }
          return views;
        },
      }
    : {}),
  callbacks: [
    {
      onStepEnd: () => {
        marks.push(cpuMs());
        counting = marks.length >= 3; // steps 1-2 warm up
      },
    },
  ],
});
const result = await trainer.fit();
const timed = marks.length - 3;
if (timed < 1) throw new Error("give at least 4 steps");
const perStep = (marks[marks.length - 1] - marks[2]) / timed;
const opCount = [...ops.values()].reduce((a, o) => a + o.n, 0) / timed;
const opMs = [...ops.values()].reduce((a, o) => a + o.ms, 0) / timed;
console.log(
  `batch ${batch}, augmentation ${augment ? "on" : "off"}: ${perStep.toFixed(1)} CPU ms per step (steps 3-${marks.length}), ` +
    `${opCount.toFixed(0)} TensorFlow ops per step taking ${opMs.toFixed(1)} CPU ms` +
    (augmentSteps > 0 ? `; augmentation ${(augmentMs / augmentSteps).toFixed(1)} CPU ms` : ""),
);
console.log(
  [...ops]
    .sort((a, b) => b[1].ms - a[1].ms)
    .map(([name, o]) => `${name} ${(o.n / timed).toFixed(0)}x ${(o.ms / timed).toFixed(2)} ms`)
    .join(", "),
);
const hash = createHash("sha256");
for (const [name, t] of [...core.methodWeights(method)].sort(([a], [b]) => (a < b ? -1 : 1)))
  hash.update(name).update(Buffer.from(t.dataSync().buffer));
console.log(`last loss ${result.losses.at(-1)}, weights sha256 ${hash.digest("hex").slice(0, 16)}`);
trainer.dispose();
method.dispose();
