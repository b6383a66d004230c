/**
 * Writes a finished sweep into a store the way `selfsup sweep` leaves one: 8 configurations of
 * (lr log-uniform, temperature in {0.1, 0.5}) x 2 seeds, 3 epochs, ASHA stops at epoch 1 for the
 * weak half. The metric rises with lr (so lr matters and temperature barely does).
 */
import { type RunStore, SweepStore } from "@selfsup/store";

export async function seedSweep(store: RunStore, name = "demo-sweep"): Promise<{ id: string; name: string }> {
  const sweeps = new SweepStore(store.db);
  const spec = {
    name,
    run: { method: { name: "simclr" }, dataset: { name: "mnist", limit: 256 }, training: { epochs: 3 } },
    search: "tpe",
    metric: { name: "knn_top1", goal: "maximize" },
    parameters: {
      "training.optimizer.lr": { log_uniform: [0.0001, 0.01] },
      "method.options.temperature": { values: [0.1, 0.5] },
    },
    seeds: 2,
    seed: 0,
    budget: { trials: 8, max_concurrent: 2 },
    early_stop: { type: "asha", min_epochs: 1, reduction_factor: 2 },
  };
  const sweep = await sweeps.createSweep({
    name,
    spec,
    search: "tpe",
    metric: "knn_top1",
    goal: "maximize",
    mode: "local",
  });
  for (let i = 0; i < 8; i++) {
    const lr = 10 ** (-4 + (2 * i) / 7);
    const temperature = i % 2 === 0 ? 0.1 : 0.5;
    const params = { "training.optimizer.lr": lr, "method.options.temperature": temperature };
    await sweeps.addTrial(sweep.id, i, params);
    const prune = i < 4 && i > 0;
    const finals: number[] = [];
    for (let seed = 0; seed < 2; seed++) {
      const config = {
        method: { name: "simclr", options: { temperature } },
        dataset: { name: "mnist", limit: 256 },
        training: { epochs: 3, seed, optimizer: { name: "adam", lr } },
      };
      const run = await store.createRun({
        name: `${name}-t${i}-s${seed}`,
        method: "simclr",
        dataset: "mnist",
        config,
        status: "running",
        tags: [`sweep:${name}`, ...(prune ? ["pruned"] : [])],
      });
      if (prune) await store.cancelRun(run.id);
      else
        await store.finishRun(run.id, {
          status: "finished",
          summary: { knn_top1: 0.5 + 0.05 * i + 0.09 + 0.01 * seed },
        });
      await sweeps.linkRun({ runId: run.id, sweepId: sweep.id, trialIdx: i, seed });
      const epochs = prune ? 1 : 3;
      for (let e = 1; e <= epochs; e++) {
        const v = 0.5 + 0.05 * i + 0.03 * e + 0.01 * seed;
        await sweeps.recordEpochValue(run.id, e, v);
        if (e === epochs) finals.push(v);
      }
    }
    const mean = (finals[0] as number) / 2 + (finals[1] as number) / 2;
    const std = Math.abs((finals[0] as number) - (finals[1] as number)) / Math.SQRT2;
    if (i > 0)
      await sweeps.decideRung({
        sweepId: sweep.id,
        trialIdx: i,
        rung: 1,
        decision: prune ? "stop" : "continue",
        value: 0.5 + 0.05 * i + 0.035,
        cutoff: 0.7,
      });
    await sweeps.updateTrial(sweep.id, i, {
      status: prune ? "pruned" : "completed",
      value: mean,
      valueStd: std,
      epochs: prune ? 1 : 3,
      prunedAt: prune ? 1 : null,
    });
  }
  await sweeps.setSweepStatus(sweep.id, "finished");
  return { id: sweep.id, name };
}
