/**
 * Bad input: a table of CLI commands a user could type wrong (configs, datasets, checkpoints,
 * runs), each with the exact error expected: an exit code, a message naming what is wrong and
 * where, never a stack trace. Nothing already stored changes: the store and the checkpoint files
 * of two earlier runs are fingerprinted before and after all the failing commands.
 */
import { createHash } from "node:crypto";
import { cp, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { grayPng } from "@selfsup/core/testing";
import { openStore } from "@selfsup/store";
import { beforeAll, describe, expect, it } from "vitest";
import { cliEnv, record, runCli, tempHome, writeConfig } from "../src/harness.js";

interface Case {
  name: string;
  args: () => string[];
  code: number;
  error: RegExp;
  /** Opens the store (run one at a time: they share the home's PGlite directory). */
  store?: boolean;
}

let home = "";
let env: NodeJS.ProcessEnv = {};
let runA = "";
let runB = "";
let ckptA = "";
const fx = (...p: string[]) => path.join(home, "fixtures", ...p);
const T = ["train", "--method", "simclr", "--dataset", "mnist", "--limit", "64", "--dry-run"];
const ds = (yaml: string) => () => ["train", fx(`${yaml}.yaml`), "--dry-run"];

/** Everything stored about the earlier runs: rows, series, checkpoints and checkpoint files. */
async function fingerprint(): Promise<string> {
  const store = await openStore({ dataDir: path.join(home, "db") });
  const h = createHash("sha256");
  try {
    for (const id of [runA, runB]) {
      const run = await store.getRun(id);
      h.update(JSON.stringify({ ...run, heartbeatAt: null }));
      h.update(JSON.stringify(await store.listCheckpoints(id)));
      h.update(JSON.stringify(await store.getEvaluations(id)));
      h.update(JSON.stringify(await store.readSeries(id, ["loss", "lr"], { maxPoints: 10_000 })));
      const dir = path.join(home, "runs", id, "checkpoints");
      for (const name of (await readdir(dir)).sort()) {
        h.update(name);
        for (const f of (await readdir(path.join(dir, name))).sort())
          h.update(await readFile(path.join(dir, name, f)));
      }
    }
  } finally {
    await store.close();
  }
  return h.digest("hex");
}

function cifarRecords(n: number, badLabelAt = -1): Buffer {
  const buf = Buffer.alloc(n * 3073);
  for (let i = 0; i < n; i++) buf[i * 3073] = i === badLabelAt ? 200 : i % 10;
  return buf;
}

async function fixtures(): Promise<void> {
  await mkdir(fx("empty"), { recursive: true });
  await mkdir(fx("notimages"), { recursive: true });
  for (let i = 0; i < 4; i++) await writeFile(fx("notimages", `img-${i}.png`), `not a png ${i}\n`);
  await mkdir(fx("truncated"), { recursive: true });
  for (let i = 0; i < 64; i++) {
    const png = grayPng(8, i);
    await writeFile(
      fx("truncated", `img-${String(i).padStart(2, "0")}.png`),
      i === 50 ? png.subarray(0, 40) : png,
    );
  }
  await mkdir(fx("mixed"), { recursive: true });
  for (let i = 0; i < 8; i++) await writeFile(fx("mixed", `img-${i}.png`), grayPng(8 + 4 * i, i));
  await mkdir(fx("cifar-trunc"), { recursive: true });
  await writeFile(fx("cifar-trunc", "data_batch_1.bin"), cifarRecords(3).subarray(0, 3 * 3073 - 7));
  await writeFile(fx("cifar-trunc", "test_batch.bin"), cifarRecords(2));
  await mkdir(fx("cifar-label"), { recursive: true });
  await writeFile(fx("cifar-label", "data_batch_1.bin"), cifarRecords(40, 33));
  await writeFile(fx("cifar-label", "test_batch.bin"), cifarRecords(10));
  const head = [
    "method: { name: simclr }",
    "backbone: { name: convnet, options: { width: 4, strides: [2] } }",
    "training: { epochs: 1, batchSize: 4 }",
    "eval: { knn: false }",
  ];
  const yaml = async (name: string, dataset: string) =>
    writeFile(fx(`${name}.yaml`), [...head, `dataset: ${dataset}`].join("\n"));
  await yaml("folder-missing", `{ name: image-folder, options: { path: ${JSON.stringify(fx("nope"))} } }`);
  await yaml("folder-empty", `{ name: image-folder, options: { path: ${JSON.stringify(fx("empty"))} } }`);
  await yaml(
    "folder-notimages",
    `{ name: image-folder, options: { path: ${JSON.stringify(fx("notimages"))} } }`,
  );
  await yaml(
    "folder-truncated",
    `{ name: image-folder, options: { path: ${JSON.stringify(fx("truncated"))}, size: 8, channels: 1 } }`,
  );
  await yaml(
    "folder-mixed",
    `{ name: image-folder, options: { path: ${JSON.stringify(fx("mixed"))}, size: 8, channels: 1 } }`,
  );
  await yaml("cifar-missing", `{ name: cifar10, options: { path: ${JSON.stringify(fx("nope"))} } }`);
  await yaml(
    "cifar-trunc",
    `{ name: cifar10, options: { path: ${JSON.stringify(fx("cifar-trunc"))}, trainFiles: [data_batch_1.bin] } }`,
  );
  await yaml(
    "cifar-label",
    `{ name: cifar10, options: { path: ${JSON.stringify(fx("cifar-label"))}, trainFiles: [data_batch_1.bin] } }`,
  );
  await writeFile(
    fx("text-missing.yaml"),
    [
      "method: { name: simclr }",
      `dataset: { name: text-lines, options: { path: ${JSON.stringify(fx("nope.txt"))} } }`,
    ].join("\n"),
  );
  await writeFile(fx("malformed.yaml"), "method: { name: simclr\ndataset: [mnist\n");
  await writeFile(fx("array.json"), "[1, 2, 3]\n");
  // A checkpoint with a missing shard, and one from another architecture.
  await cp(ckptA, fx("ckpt-no-weights"), { recursive: true });
  await rm(fx("ckpt-no-weights", "weights.bin"));
}

const cases: Case[] = [
  // ---- configs
  {
    name: "epochs 0",
    args: () => [...T, "--epochs", "0"],
    code: 2,
    error: /training\.epochs: .*>=1 \(got 0\)/,
  },
  {
    name: "epochs negative",
    args: () => [...T, "--epochs", "-3"],
    code: 2,
    error: /training\.epochs: .*>=1 \(got -3\)/,
  },
  {
    name: "epochs not an integer",
    args: () => [...T, "--epochs", "1.5"],
    code: 2,
    error: /training\.epochs: .*expected int, received number \(got 1\.5\)/,
  },
  {
    name: "batch size 0",
    args: () => [...T, "--batch-size", "0"],
    code: 2,
    error: /training\.batchSize: Too small: expected number to be >=2 \(got 0\)/,
  },
  {
    name: "batch size not a number",
    args: () => [...T, "--batch-size", "abc"],
    code: 2,
    error: /training\.batchSize: .*expected number.*"abc"/,
  },
  {
    name: "negative lr",
    args: () => [...T, "--lr", "-1"],
    code: 2,
    error: /training\.optimizer\.lr: .*\(got -1\)/,
  },
  {
    name: "lr 1e6 (would give a NaN loss)",
    args: () => [...T, "--lr", "1e6"],
    code: 2,
    error: /training\.optimizer\.lr: Too big: expected number to be <=100 \(got 1000000\)/,
  },
  {
    name: "unknown method",
    args: () => ["train", "--method", "simclrr", "--dataset", "mnist", "--dry-run"],
    code: 2,
    error: /method\.name: unknown method "simclrr"; installed methods: .*simclr/,
  },
  {
    name: "unknown dataset",
    args: () => ["train", "--method", "simclr", "--dataset", "mnistt", "--dry-run"],
    code: 2,
    error: /dataset\.name: unknown dataset "mnistt"; installed datasets: .*mnist/,
  },
  {
    name: "unknown backbone",
    args: () => [...T, "--backbone", "resnet99"],
    code: 2,
    error: /backbone\.name: unknown backbone "resnet99"; installed backbones: .*convnet/,
  },
  {
    name: "unknown optimizer",
    args: () => [...T, "--optimizer", "rmsprop"],
    code: 2,
    error:
      /option '--optimizer <name>' argument 'rmsprop' is invalid\. Allowed choices are sgd, adam, adamw, lars/,
  },
  {
    name: "wrong type via --set",
    args: () => [...T, "--set", "training.epochs=true"],
    code: 2,
    error: /training\.epochs: .*expected number/,
  },
  {
    name: "unknown field via --set",
    args: () => [...T, "--set", "training.epohcs=3"],
    code: 2,
    error: /training\.epohcs: unknown field; allowed here: epochs, maxSteps, batchSize, /,
  },
  {
    name: "--set __proto__.polluted",
    args: () => [...T, "--set", "__proto__.polluted=1"],
    code: 2,
    error: /"__proto__" is not allowed as a field name/,
  },
  {
    name: "method option out of range",
    args: () => [...T, "--set", "method.options.temperature=-1"],
    code: 2,
    error: /method\.options\.temperature: .*\(got -1\)/,
  },
  {
    name: "unknown method option",
    args: () => [...T, "--set", "method.options.temprature=0.5"],
    code: 2,
    error: /method\.options: unknown option "temprature" of method "simclr"; its options: .*temperature/,
  },
  {
    name: "keepLast 0",
    args: () => [...T, "--set", "checkpoint.keepLast=0"],
    code: 2,
    error: /checkpoint\.keepLast: .*>=1 \(got 0\)/,
  },
  {
    name: "limit 0",
    args: () => ["train", "--method", "simclr", "--dataset", "mnist", "--limit", "0", "--dry-run"],
    code: 2,
    error: /dataset\.limit: .*\(got 0\)/,
  },
  {
    name: "unknown backend",
    args: () => [...T, "--backend", "cuda"],
    code: 2,
    error: /option '--backend <name>' argument 'cuda' is invalid\. Allowed choices are auto, /,
  },
  {
    name: "config file missing",
    args: () => ["train", fx("missing.yaml")],
    code: 2,
    error: /config file .*missing\.yaml does not exist/,
  },
  {
    name: "config file malformed YAML",
    args: () => ["train", fx("malformed.yaml")],
    code: 2,
    error: /malformed\.yaml.*(YAML|line \d+)/,
  },
  {
    name: "config file not an object",
    args: () => ["train", fx("array.json")],
    code: 2,
    error: /array\.json.*(object|mapping)/i,
  },
  {
    name: "batch larger than the dataset",
    args: () => [
      "train",
      "--method",
      "simclr",
      "--dataset",
      "mnist",
      "--limit",
      "32",
      "--batch-size",
      "512",
      "--dry-run",
    ],
    code: 2,
    error: /training\.batchSize: 512 is more than the 32 training samples of dataset "mnist" \(--limit 32\)/,
  },
  {
    name: "text backbone on image data",
    args: () => [...T, "--backbone", "text-transformer"],
    code: 2,
    error: /backbone "text-transformer" encodes token sequences, but the dataset gives image/,
  },
  {
    name: "evaluator needs a test split",
    args: () => [
      "train",
      "--method",
      "simclr",
      "--dataset",
      "synthetic",
      "--set",
      "dataset.options.testSize=0",
      "--dry-run",
    ],
    code: 2,
    error: /eval: evaluator "knn" needs a dataset with a test split; "synthetic" has only a training split/,
  },
  // ---- datasets
  {
    name: "image folder missing",
    args: ds("folder-missing"),
    code: 1,
    error: /nope.* (does not exist|is not a folder)/,
  },
  {
    name: "image folder empty",
    args: ds("folder-empty"),
    code: 1,
    error: /image-folder: no PNG or JPEG images in .*empty/,
  },
  {
    name: "image folder of non-images",
    args: ds("folder-notimages"),
    code: 1,
    error: /img-0\.png.*not a PNG or JPEG/i,
  },
  {
    name: "image folder: truncated PNG (fails mid-run, real step)",
    args: () => ["train", fx("folder-truncated.yaml"), "-q"],
    code: 1,
    error: /failed at step [1-9]\d* after .*img-50\.png/,
    store: true,
  },
  {
    name: "image folder: mixed sizes (resized, accepted)",
    args: ds("folder-mixed"),
    code: 0,
    error: /"name": "image-folder"/,
  },
  {
    name: "cifar10 folder missing",
    args: ds("cifar-missing"),
    code: 1,
    error: /cifar10: .*nope.*(not a folder|does not exist)/,
  },
  {
    name: "cifar10 truncated binary",
    args: ds("cifar-trunc"),
    code: 1,
    error:
      /data_batch_1\.bin is 9212 bytes, not a whole number of 3073-byte records .*2 records and 3066 stray bytes/,
  },
  {
    name: "cifar10 label 200",
    args: ds("cifar-label"),
    code: 1,
    error: /data_batch_1\.bin: record 33 has label 200, expected 0-9/,
  },
  { name: "text file missing", args: ds("text-missing"), code: 1, error: /text-lines: .*nope\.txt/ },
  // ---- runs and checkpoints
  {
    name: "resume an unknown run",
    args: () => ["resume", "no-such-run"],
    code: 2,
    error: /no run with id or name "no-such-run"/,
    store: true,
  },
  {
    name: "resume a finished run",
    args: () => ["resume", runA],
    code: 2,
    error: /already finished; nothing to resume/,
    store: true,
  },
  {
    name: "checkpoint of another architecture",
    args: () => ["eval", runB, "--checkpoint", ckptA, "--no-save", "--limit", "64"],
    code: 1,
    error:
      /weights\.bin, module "backbone": cannot load state into ConvNet: "block1\.conv\.weight" has shape \[3,3,1,4\] but the module expects \[3,3,1,8\]/,
    store: true,
  },
  {
    name: "checkpoint with a missing shard",
    args: () => ["eval", runA, "--checkpoint", fx("ckpt-no-weights"), "--no-save", "--limit", "64"],
    code: 1,
    error: /weights\.bin is missing \(listed in manifest\.json\)/,
    store: true,
  },
  {
    name: "not a checkpoint directory",
    args: () => ["eval", runA, "--checkpoint", fx("empty"), "--no-save"],
    code: 2,
    error: /is not a checkpoint directory \(no manifest\.json\)/,
    store: true,
  },
  {
    name: "unknown eval protocol",
    args: () => ["eval", runA, "--protocol", "knnn"],
    code: 2,
    error: /unknown protocol "knnn"; allowed: knn, linear, few-label/,
    store: true,
  },
  {
    name: "unknown status filter",
    args: () => ["runs", "--status", "done"],
    code: 2,
    error: /unknown status "done"; allowed: queued, running/,
    store: true,
  },
];

describe("bad input", () => {
  beforeAll(async () => {
    home = await tempHome();
    env = cliEnv(home);
    await mkdir(fx(), { recursive: true });
    const base = (width: number) =>
      [
        "method: { name: simclr, options: { projectorHiddenDim: 16, projectorOutputDim: 8 } }",
        `backbone: { name: convnet, options: { width: ${width}, strides: [2, 2] } }`,
        "dataset: { name: mnist, limit: 64 }",
        "training: { epochs: 1, batchSize: 16 }",
        "checkpoint: { everySteps: 2 }",
        "eval: { knn: false }",
      ].join("\n");
    for (const [width, set] of [
      [4, (id: string) => (runA = id)],
      [8, (id: string) => (runB = id)],
    ] as const) {
      const r = await runCli(
        ["train", await writeConfig(home, base(width), `w${width}.yaml`), "--json"],
        env,
      );
      expect(r.code, r.stderr).toBe(0);
      set(String(r.events.find((e) => e.type === "start")?.runId));
    }
    const store = await openStore({ dataDir: path.join(home, "db") });
    ckptA = (await store.latestCheckpoint(runA))?.path ?? "";
    await store.close();
    await fixtures();
  });

  it(`${cases.length} cases: each refused with its exact error, no crash, nothing stored changed`, async () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
    const before = await fingerprint();
    const failures: string[] = [];
    // Those that do not open the store three at a time (most fail in a second, before any model
    // is built); the others one by one.
    const free = cases.filter((c) => !c.store);
    const groups = [
      ...Array.from({ length: Math.ceil(free.length / 3) }, (_, i) => free.slice(i * 3, i * 3 + 3)),
      ...cases.filter((c) => c.store).map((c) => [c]),
    ];
    for (const group of groups) {
      await Promise.all(
        group.map(async (c) => {
          const r = await runCli(c.args(), env);
          const text = c.code === 0 ? r.stdout : r.stderr;
          const crashed = /\n\s+at .*\.(js|ts):\d+/.test(r.stderr) || r.code > 2;
          const ok = r.code === c.code && c.error.test(text) && !crashed;
          const got = `exit ${r.code}: ${(c.code === 0 ? "(dry-run config printed)" : r.stderr).replaceAll(home, "~").replace(/^selfsup: /, "")}`;
          record({
            section: "bad input",
            name: c.name,
            expected: `exit ${c.code}, ${c.error.source}`,
            got,
            ok,
          });
          if (!ok) failures.push(`${c.name}: ${got}`);
        }),
      );
    }
    const after = await fingerprint();
    record({
      section: "bad input",
      name: "nothing already stored changed",
      expected: "store + checkpoint files fingerprint equal before/after",
      got:
        before === after
          ? `equal (${before.slice(0, 12)})`
          : `CHANGED ${before.slice(0, 12)} -> ${after.slice(0, 12)}`,
      ok: before === after,
    });
    expect(failures).toEqual([]);
    expect(after).toBe(before);
    // 41 CLI processes one after another (each a Node start, plugin discovery and, for the
    // cases that get that far, the pre-flight's trial step): 180 s was not enough on a loaded box.
  }, 420_000);
});
