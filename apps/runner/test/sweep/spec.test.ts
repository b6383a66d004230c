/**
 * Bad sweep files are refused before anything is stored, each error naming its field (planSweep
 * with the installed plugins, no training); through the CLI: exit code 2 and nothing stored; and a
 * trial whose own config is invalid is recorded `invalid` while the sweep goes on.
 */
import path from "node:path";
import type { Registry } from "@selfsup/core";
import { openStore, SweepStore } from "@selfsup/store";
import { beforeAll, describe, expect, it } from "vitest";
import { loadRegistry } from "../../src/plugins.js";
import { parseSweepFile, planSweep, trialRawConfig } from "../../src/sweep/spec.js";
import { cliEnv, runCli, tempHome, writeConfig } from "../helpers.js";

const base = {
  name: "s",
  run: {
    method: { name: "simclr" },
    dataset: { name: "mnist", limit: 256 },
    training: { epochs: 2, batchSize: 32 },
  },
  search: "random",
  metric: { name: "knn_top1", goal: "maximize" },
  parameters: {
    "training.optimizer.lr": { log_uniform: [0.0001, 0.01] },
    "method.options.temperature": { values: [0.1, 0.5] },
  },
  budget: { trials: 4, max_concurrent: 1 },
  early_stop: { type: "asha", min_epochs: 1, reduction_factor: 2 },
};

function problem(over: Record<string, unknown>, registry: Registry): string {
  try {
    planSweep(parseSweepFile({ ...base, ...over }), registry, {
      input: { kind: "image", shape: [28, 28, 1], numClasses: 10 } as never,
    });
  } catch (err) {
    return (err as Error).message;
  }
  return "(accepted)";
}

describe("sweep file validation", () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = (await loadRegistry()).registry;
  });

  it("accepts the issue's example and derives the plan", () => {
    const plan = planSweep(parseSweepFile(base), registry);
    expect(plan.trials).toBe(4);
    expect(plan.rungs).toEqual([1]);
    expect(plan.space.map(([p]) => p)).toEqual(["training.optimizer.lr", "method.options.temperature"]);
    const raw = trialRawConfig(
      plan.spec,
      { "training.optimizer.lr": 0.001, "method.options.temperature": 0.1 },
      1,
    );
    expect(raw).toMatchObject({
      training: { optimizer: { lr: 0.001 }, seed: 1 },
      method: { options: { temperature: 0.1 } },
    });
  });

  it("names each bad field", () => {
    expect(problem({ parameters: { "method.options.temprature": { values: [0.1] } } }, registry)).toMatch(
      /parameters\.method\.options\.temprature: no field "temprature" at method\.options of the run config; fields there: .*temperature/,
    );
    expect(problem({ parameters: { "training.optimizer.lr": { uniform: [0.1, 0.01] } } }, registry)).toMatch(
      /parameters\.training\.optimizer\.lr\.uniform: low must be below high \(got \[0\.1, 0\.01\]\)/,
    );
    expect(
      problem({ parameters: { "training.optimizer.lr": { log_uniform: [0, 0.01] } } }, registry),
    ).toMatch(/parameters\.training\.optimizer\.lr\.log_uniform: log_uniform needs a positive range/);
    expect(
      problem({ parameters: { "training.optimizer.lr": { uniform: [0.1, 0.2], values: [1] } } }, registry),
    ).toMatch(
      /needs exactly one of values, choice, uniform, log_uniform, int_uniform \(got values and uniform\)|got uniform and values/,
    );
    expect(problem({ metric: { name: "knn_top5" } }, registry)).toMatch(
      /metric\.name: no run of this sweep reports "knn_top5" per epoch; it reports: knn_top1, loss/,
    );
    expect(
      problem({ run: { ...base.run, eval: { everyEpochs: 0 } }, metric: { name: "knn_top1" } }, registry),
    ).toMatch(/knn_top1 is reported per epoch only with run.eval.knn true and run.eval.everyEpochs >= 1/);
    expect(
      problem(
        {
          search: "grid",
          seeds: 2,
          parameters: {
            "training.optimizer.lr": { values: [0.1, 0.01, 0.001] },
            "method.options.temperature": { values: [0.1, 0.2, 0.5] },
          },
        },
        registry,
      ),
    ).toMatch(
      /budget\.trials: the grid has 9 configurations \(3 x 3\), 18 runs with 2 seeds, but budget\.trials is 4/,
    );
    expect(problem({ search: "grid" }, registry)).toMatch(
      /search: grid needs values .* continuous: training\.optimizer\.lr/,
    );
    expect(problem({ seeds: 0 }, registry)).toMatch(/seeds: must be at least 1/);
    expect(problem({ budget: { max_concurrent: 1 } }, registry)).toMatch(
      /budget\.trials: random search needs a number of trials/,
    );
    expect(problem({ early_stop: { type: "asha", min_epochs: 2 } }, registry)).toMatch(
      /early_stop\.min_epochs: 2 leaves no rung before the last epoch \(run\.training\.epochs is 2\)/,
    );
    expect(problem({ run: { ...base.run, method: { name: "simclrr" } } }, registry)).toMatch(
      /invalid sweep file: run:\n {2}method\.name: unknown method "simclrr"/,
    );
    expect(problem({ serach: "tpe" }, registry)).toMatch(
      /serach: unknown field; allowed here: name, run, search/,
    );
    expect(problem({ parameters: { "training.seed": { values: [1, 2] } } }, registry)).toMatch(
      /parameters\.training\.seed: seeds are set by `seeds: N`/,
    );
  });
});

describe("selfsup sweep (CLI) with bad input", () => {
  it("exits 2 before storing anything; a trial with an invalid config is recorded and the sweep goes on", async () => {
    const home = await tempHome("selfsup-sweep-bad-");
    const env = cliEnv(home);
    const badFile = await writeConfig(
      home,
      "name: bad\nrun: { method: { name: simclr }, dataset: { name: synthetic } }\nsearch: random\nmetric: { name: knn_top1 }\nparameters:\n  method.options.temprature: { values: [0.1] }\nbudget: { trials: 2 }\n",
      "bad.yaml",
    );
    const bad = await runCli(["sweep", badFile], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/parameters\.method\.options\.temprature: no field "temprature"/);

    const file = await writeConfig(
      home,
      [
        "name: with-invalid",
        "run:",
        "  method: { name: simclr, options: { projectorHiddenDim: 16, projectorOutputDim: 8 } }",
        "  backbone: { name: convnet, options: { width: 4, strides: [2] } }",
        "  dataset: { name: synthetic, options: { size: 8, trainSize: 32, testSize: 32 } }",
        "  training: { epochs: 1, batchSize: 16 }",
        "  eval: { knn: false }",
        "search: grid",
        "metric: { name: loss, goal: minimize }",
        "parameters:",
        "  method.options.temperature: { values: [-1, 0.5] }",
      ].join("\n"),
      "sweep.yaml",
    );
    const r = await runCli(["sweep", file, "--json", "--poll", "0.3"], env);
    expect(r.code, r.stderr).toBe(0);
    const store = await openStore({ dataDir: path.join(home, "db") });
    try {
      const sweeps = new SweepStore(store.db);
      expect(await sweeps.getSweep("bad")).toBeNull();
      const s = await sweeps.getSweep("with-invalid");
      expect(s?.status).toBe("finished");
      const trials = await sweeps.listTrials(s?.id as string);
      expect(trials.map((t) => t.status)).toEqual(["invalid", "completed"]);
      expect(trials[0]?.error).toMatch(/method\.options\.temperature/);
      expect(await sweeps.sweepRuns(s?.id as string)).toHaveLength(1);
    } finally {
      await store.close();
    }
  }, 300_000); // three CLI processes: ~10 s idle, but a loaded 2-core box has taken over 90 s
});
