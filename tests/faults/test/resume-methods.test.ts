/**
 * #29's methods resume exactly after kill -9: for DINO, iBOT, MoCo v3, NNCLR and I-JEPA (tiny
 * options, 128 digits, batch 16, 16 steps), a run killed with SIGKILL a step past its checkpoint
 * and resumed with `selfsup resume --force` records the same loss at every step, to the bit, as an
 * uninterrupted run with the same seed. That covers the state each method keeps outside its
 * trained weights: DINO's and iBOT's teacher and centre, MoCo v3's momentum encoder, NNCLR's
 * support set and its pointer, I-JEPA's target encoder, and the schedules that read the step.
 * (The conformance kit checks the same in-process on synthetic images; this goes through the CLI,
 * the store and a process that dies at an arbitrary point.)
 */
import path from "node:path";
import { openStore } from "@selfsup/store";
import { describe, expect, it } from "vitest";
import {
  type CliRun,
  cliEnv,
  record,
  runCli,
  startCli,
  steps,
  tempHome,
  writeConfig,
} from "../src/harness.js";

const TOTAL = 16; // 128 digits / batch 16 = 8 steps per epoch, 2 epochs
const tinyConvnet = "backbone: { name: convnet, options: { width: 4, strides: [2, 2] } }";
const tinyViT = (maskMode: "token" | "remove") =>
  `backbone: { name: vit-tiny, options: { patchSize: 7, dim: 16, depth: 1, heads: 2, mlpRatio: 2, maskMode: ${maskMode} } }`;
const dinoTiny = "{ projectorHiddenDim: 16, bottleneckDim: 8, prototypes: 16, localCrops: 2 }";

const METHODS: { name: string; method: string; backbone: string }[] = [
  { name: "dino", method: `method: { name: dino, options: ${dinoTiny} }`, backbone: tinyConvnet },
  { name: "ibot", method: `method: { name: ibot, options: ${dinoTiny} }`, backbone: tinyViT("token") },
  {
    name: "moco-v3",
    method: "method: { name: moco-v3, options: { projectorHiddenDim: 16, projectorOutputDim: 8 } }",
    backbone: tinyConvnet,
  },
  {
    name: "nnclr",
    method:
      "method: { name: nnclr, options: { projectorHiddenDim: 16, projectorOutputDim: 8, supportSetSize: 64 } }",
    backbone: tinyConvnet,
  },
  {
    name: "ijepa",
    method: "method: { name: ijepa, options: { predictorDim: 8, predictorDepth: 1, predictorHeads: 2 } }",
    backbone: tinyViT("remove"),
  },
];

function config(m: (typeof METHODS)[number]): string {
  return [
    m.method,
    m.backbone,
    "dataset: { name: mnist, limit: 128 }",
    "training: { epochs: 2, batchSize: 16, seed: 7 }",
    "checkpoint: { everySteps: 3, keepLast: 3 }",
    "eval: { knn: false }",
  ].join("\n");
}

async function lossSeries(home: string, runId: string): Promise<{ x: number; y: number }[]> {
  const store = await openStore({ dataDir: path.join(home, "db") });
  try {
    const [series] = await store.readSeries(runId, ["loss"], { maxPoints: 10_000 });
    return (series?.points ?? []).map((p) => ({ x: p.x, y: p.y }));
  } finally {
    await store.close();
  }
}

async function killAfterCheckpoint(child: CliRun): Promise<number> {
  const ckpt = await child.waitFor((e) => e.type === "checkpoint" && Number(e.step) >= 6);
  await child.waitFor((e) => e.type === "step" && Number(e.step) >= Number(ckpt.step) + 1);
  child.child.kill("SIGKILL");
  expect(await child.exited).toBe(137);
  return Math.max(...child.events.filter((e) => e.type === "step").map((e) => Number(e.step)));
}

describe("#29's methods resume exactly after kill -9", () => {
  for (const m of METHODS) {
    it(`${m.name}: killed past a checkpoint, resumed, every step's loss equals the uninterrupted run's`, async () => {
      const home = await tempHome();
      const env = cliEnv(home);
      const file = await writeConfig(home, config(m));

      const reference = await runCli(["train", file, "--json"], env);
      expect(reference.code, reference.stderr).toBe(0);
      const referenceId = String(reference.events.find((e) => e.type === "start")?.runId);

      const child = startCli(["train", file, "--json"], env);
      const start = await child.waitFor((e) => e.type === "start");
      const runId = String(start.runId);
      const killedAt = await killAfterCheckpoint(child);
      const resumed = await runCli(["resume", runId, "--json", "--force"], env);
      expect(resumed.code, resumed.stderr).toBe(0);
      const resumedFrom = Number(resumed.events.find((e) => e.type === "start")?.startStep);
      expect(resumed.events.at(-1)).toMatchObject({ type: "end", status: "finished", step: TOTAL });

      const want = await lossSeries(home, referenceId);
      const got = await lossSeries(home, runId);
      expect(want.map((p) => p.x)).toEqual(steps(TOTAL));
      expect(got.map((p) => p.x)).toEqual(steps(TOTAL));
      const differing = got.filter((p, i) => p.y !== want[i]?.y).map((p) => p.x);
      expect(
        differing,
        `steps whose loss differs from the uninterrupted run (resumed from ${resumedFrom})`,
      ).toEqual([]);
      record({
        section: "crashes",
        name: `${m.name}: kill -9 + resume vs uninterrupted`,
        expected: `steps 1..${TOTAL} once, every loss bit-identical`,
        got: `killed after step ${killedAt}, resumed from step ${resumedFrom}; ${differing.length} of ${TOTAL} losses differ`,
        ok: differing.length === 0,
        figures: { killed_at: killedAt, resumed_from: resumedFrom, differing: differing.length },
      });
    });
  }
});
