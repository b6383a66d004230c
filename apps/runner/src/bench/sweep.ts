/**
 * `pnpm bench sweep`: a sweep on the team path, end to end, as a user runs it, and the comparison
 * of TPE + ASHA against random search without early stopping on the same budget.
 *
 * Needs a PostgreSQL server it may create databases on: DATABASE_URL or TEST_DATABASE_URL
 * (`eval "$(bash .ci/start-postgres.sh)"` starts a throwaway one). Each phase gets a fresh
 * database (dropped at the end unless --keep) and one SELFSUP_HOME shared by its workers (two
 * worker processes on one host).
 *
 *   1. TPE + ASHA: a SimCLR sweep on the MNIST digits (lr log-uniform 1e-4..1e-2, temperature in
 *      {0.1, 0.2, 0.5}, projector output in {64, 128}; 12 configurations x 2 seeds, 3 epochs at
 *      `--limit 2000`, ASHA from epoch 1 with reduction factor 2), `selfsup sweep` queuing its runs
 *      on pg-boss for two `selfsup worker` processes. Once worker A has written a checkpoint of
 *      its first run it is killed with SIGKILL and a replacement worker started (as a host that
 *      restarts); pg-boss hands the job on and the run resumes from its checkpoint.
 *   2. Random search, no early stopping: the same space, budget and workers, no kill.
 *
 * Then, read back from the store, the checks of issue 27's Done-when (printed PASS/FAIL; exit 1 if
 * one fails): the sweep finished, every trial ended, the killed run ended (finished, or cancelled
 * by ASHA) after a resume on another worker with each step's loss exactly once, every finished run
 * has steps 1..N once, every pruned run stopped at an epoch end with no step past it, at least a
 * third of the trials pruned. And the figures of each phase: best configuration (mean knn_top1 over
 * seeds at the last epoch), trials completed/pruned, optimizer steps trained, wall time.
 *
 * On the wasm backend a run of this size takes minutes: build the native one first
 * (`selfsup backend build-native --tensorflow <wheel> --dir <dir>`, then SELFSUP_NATIVE_DIR=<dir>).
 *
 * Options: --limit N (2000), --epochs N (3), --trials N (12), --seeds N (2), --batch N (64),
 * --phase tpe|random|both (both), --no-kill, --keep (keep the databases and homes),
 * --backend <name> (default auto: tensorflow where `selfsup backend build-native` ran).
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createScratchDatabase, openStore, type RunStore, SweepStore, type SweepTrial } from "@selfsup/store";
import { type CliRun, startCli, writeConfig } from "../testing/cli.js";

interface Args {
  limit: number;
  epochs: number;
  trials: number;
  seeds: number;
  batch: number;
  phase: "tpe" | "random" | "both";
  kill: boolean;
  keep: boolean;
  backend: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    limit: 2000,
    epochs: 3,
    trials: 12,
    seeds: 2,
    batch: 64,
    phase: "both",
    kill: true,
    keep: false,
    backend: "auto",
  };
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: a positive integer (got ${v ?? "nothing"})`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    if (f === "--limit") a.limit = num(f, argv[++i]);
    else if (f === "--epochs") a.epochs = num(f, argv[++i]);
    else if (f === "--trials") a.trials = num(f, argv[++i]);
    else if (f === "--seeds") a.seeds = num(f, argv[++i]);
    else if (f === "--batch") a.batch = num(f, argv[++i]);
    else if (f === "--phase") {
      const p = argv[++i];
      if (p !== "tpe" && p !== "random" && p !== "both")
        throw new Error(`--phase: tpe, random or both (got ${p})`);
      a.phase = p;
    } else if (f === "--no-kill") a.kill = false;
    else if (f === "--keep") a.keep = true;
    else if (f === "--backend") a.backend = argv[++i] ?? "auto";
    else throw new Error(`unknown option ${f} (see the header of apps/runner/src/bench/sweep.ts)`);
  }
  return a;
}

function sweepFile(name: string, a: Args, search: "tpe" | "random"): string {
  return [
    `name: ${name}`,
    "run:",
    "  method: { name: simclr }",
    `  dataset: { name: mnist, limit: ${a.limit} }`,
    `  training: { epochs: ${a.epochs}, batchSize: ${a.batch} }`,
    "  eval: { knn: true, everyEpochs: 1 }",
    "  checkpoint: { everySteps: 10 }",
    `  backend: ${a.backend}`,
    `search: ${search}`,
    "metric: { name: knn_top1, goal: maximize }",
    "parameters:",
    "  training.optimizer.lr: { log_uniform: [0.0001, 0.01] }",
    "  method.options.temperature: { choice: [0.1, 0.2, 0.5] }",
    "  method.options.projectorOutputDim: { choice: [64, 128] }",
    `seeds: ${a.seeds}`,
    `budget: { trials: ${a.trials}, max_concurrent: 2 }`,
    ...(search === "tpe"
      ? ["tpe: { startup_trials: 4 }", "early_stop: { type: asha, min_epochs: 1, reduction_factor: 2 }"]
      : []),
  ].join("\n");
}

interface PhaseResult {
  label: string;
  wallSec: number;
  trials: SweepTrial[];
  runs: number;
  steps: number;
  best: SweepTrial | undefined;
  checks: Array<{ what: string; ok: boolean; got: string }>;
}

const fmt = (p: Record<string, unknown>) =>
  Object.entries(p)
    .map(
      ([k, v]) =>
        `${k.split(".").at(-1)}=${typeof v === "number" && !Number.isInteger(v) ? v.toPrecision(3) : String(v)}`,
    )
    .join(" ");

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

async function phase(a: Args, serverUrl: string, search: "tpe" | "random"): Promise<PhaseResult> {
  const label = search === "tpe" ? "TPE + ASHA" : "random, no early stop";
  const db = await createScratchDatabase(serverUrl, `selfsup_bench_sweep_${search}`);
  const home = await mkdtemp(path.join(os.tmpdir(), `selfsup-bench-sweep-${search}-`));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SELFSUP_HOME: home,
    DATABASE_URL: db.url,
    SELFSUP_QUEUE_HEARTBEAT_SECONDS: "10",
    FORCE_COLOR: "0",
  };
  delete env.SELFSUP_PLUGINS;
  const workers: CliRun[] = [];
  const checks: PhaseResult["checks"] = [];
  const check = (what: string, ok: boolean, got: string) => {
    checks.push({ what, ok, got });
    log(`${ok ? "PASS" : "FAIL"} ${what}: ${got}`);
  };
  const startWorker = (tag: string) => {
    const w = startCli(["worker", "--json", "--poll", "0.5"], env, 1_800_000);
    workers.push(w);
    log(`worker ${tag} started (pid ${w.child.pid})`);
    return w;
  };
  try {
    const name = `bench-${search}`;
    const file = await writeConfig(home, sweepFile(name, a, search), "sweep.yaml");
    log(`${label}: ${a.trials} configurations x ${a.seeds} seeds, ${a.epochs} epochs, --limit ${a.limit}`);
    const t0 = performance.now();
    const sweep = startCli(["sweep", file, "--json", "--poll", "0.5"], env, 1_800_000);
    sweep.child.stdout?.on("data", (c: string) => {
      for (const line of c.split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
          const e = JSON.parse(line) as Record<string, unknown>;
          if (e.type === "trial" && e.status !== "pending" && e.status !== "running")
            log(
              `  trial ${String(e.idx)} ${String(e.status)} ${typeof e.value === "number" ? e.value.toFixed(4) : ""}  ${fmt(e.params as Record<string, unknown>)}`,
            );
        } catch {
          // a partial line
        }
      }
    });
    const a1 = startWorker("a");
    startWorker("b");
    let killedRun: string | undefined;
    const killedPid = a1.child.pid;
    if (a.kill && search === "tpe") {
      const started = await a1.waitFor((e) => e.type === "worker" && /^starting run/.test(String(e.message)));
      killedRun = /run (\S+)/.exec(String(started.message))?.[1];
      const ck = await a1.waitFor((e) => e.type === "checkpoint");
      a1.child.kill("SIGKILL");
      log(
        `worker a killed with SIGKILL (exit ${await a1.exited}) after the checkpoint at step ${String(ck.step)} of run ${killedRun}`,
      );
      startWorker("c");
    }
    const code = await sweep.exited;
    const wallSec = (performance.now() - t0) / 1000;
    check("sweep process exit 0", code === 0, `exit ${code}${code ? `: ${sweep.stderr().slice(-500)}` : ""}`);

    const store: RunStore = await openStore({ url: db.url, poolSize: 1 });
    try {
      const sweeps = new SweepStore(store.db);
      const s = await sweeps.getSweep(name);
      check("sweep finished", s?.status === "finished", String(s?.status));
      const trials = await sweeps.listTrials(s?.id as string);
      const ended = trials.filter((t) => t.status === "completed" || t.status === "pruned");
      check(
        "every trial ended",
        trials.length === a.trials && ended.length === a.trials,
        `${ended.length} of ${trials.length} completed or pruned (budget ${a.trials})`,
      );
      const runs = await sweeps.sweepRuns(s?.id as string);
      const decisions = await sweeps.rungDecisions(s?.id as string);
      const stepsPerEpoch = Math.floor(a.limit / a.batch);
      const total = stepsPerEpoch * a.epochs;
      let steps = 0;
      let bad: string[] = [];
      for (const r of runs) {
        const xs = (await store.readPoints(r.runId, "loss", { limit: 100_000 })).map((p) => p.step);
        steps += xs.length;
        const once = xs.every((x, i) => x === i + 1);
        if (!once) bad.push(`${r.runId}: steps not 1..n once`);
        if (r.status === "finished" && xs.length !== total)
          bad.push(`${r.runId}: finished with ${xs.length} of ${total} steps`);
      }
      check(
        "every run's loss at each step exactly once, finished runs complete",
        bad.length === 0,
        bad.length ? bad.slice(0, 3).join("; ") : `${runs.length} runs, ${steps} steps`,
      );
      if (search === "tpe") {
        // each pruned trial: the seed that took the decision stopped at the rung's epoch end
        bad = [];
        for (const t of trials.filter((x) => x.status === "pruned")) {
          const stop = decisions.find((d) => d.trialIdx === t.idx && d.decision === "stop");
          const counts = [];
          for (const r of runs.filter((x) => x.trialIdx === t.idx))
            counts.push((await store.readPoints(r.runId, "loss", { limit: 100_000 })).length);
          if (!stop || !counts.includes(stop.rung * stepsPerEpoch))
            bad.push(`trial ${t.idx}: rung ${stop?.rung}, runs' steps ${counts.join("/")}`);
        }
        check(
          "pruned trials stopped at the rung's epoch end, no step past it",
          bad.length === 0,
          bad.length ? bad.join("; ") : `${trials.filter((x) => x.status === "pruned").length} pruned trials`,
        );
        const pruned = trials.filter((t) => t.status === "pruned").length;
        check("at least a third of the trials pruned", pruned * 3 >= a.trials, `${pruned} of ${a.trials}`);
        if (killedRun) {
          const k = runs.find((r) => r.runId === killedRun);
          const run = await store.getRun(killedRun);
          const xs = (await store.readPoints(killedRun, "loss", { limit: 100_000 })).map((p) => p.step);
          const resumedOn = run?.host ?? "?";
          check(
            "the killed worker's run resumed on another worker, nothing lost",
            (k?.status === "finished" || k?.status === "cancelled") &&
              !resumedOn.endsWith(`:${killedPid}`) &&
              xs.every((x, i) => x === i + 1),
            `${k?.status}, ended on ${resumedOn}, ${xs.length} steps once`,
          );
        }
      }
      const completed = trials.filter((t) => t.status === "completed" && t.value !== null);
      const best = completed.sort((x, y) => (y.value as number) - (x.value as number))[0];
      return { label, wallSec, trials, runs: runs.length, steps, best, checks };
    } finally {
      await store.close();
    }
  } finally {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill("SIGINT");
    await Promise.all(workers.map((w) => w.exited));
    if (!a.keep) {
      await db.drop().catch((err: Error) => log(`could not drop the bench database: ${err.message}`));
      await rm(home, { recursive: true, force: true });
    } else log(`kept: database ${db.url}, home ${home}`);
  }
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const serverUrl = process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (!serverUrl)
    throw new Error(
      'the sweep bench needs PostgreSQL: set DATABASE_URL or TEST_DATABASE_URL (eval "$(bash .ci/start-postgres.sh)" starts one)',
    );
  log(`sweep bench on ${os.cpus().length} cores (${os.loadavg()[0]?.toFixed(1)} load), backend ${a.backend}`);
  const results: PhaseResult[] = [];
  if (a.phase !== "random") results.push(await phase(a, serverUrl, "tpe"));
  if (a.phase !== "tpe") results.push(await phase(a, serverUrl, "random"));
  const rows = results.map((r) => {
    const c = r.trials.filter((t) => t.status === "completed").length;
    const p = r.trials.filter((t) => t.status === "pruned").length;
    return [
      r.label,
      r.best ? `${(r.best.value as number).toFixed(4)} ± ${(r.best.valueStd ?? 0).toFixed(4)}` : "-",
      r.best ? fmt(r.best.params) : "-",
      `${c} completed, ${p} pruned`,
      String(r.runs),
      String(r.steps),
      `${r.wallSec.toFixed(0)} s`,
    ];
  });
  const header = [
    "search",
    "best knn_top1 (mean ± std over seeds)",
    "best configuration",
    "trials",
    "runs",
    "steps trained",
    "wall",
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ");
  process.stdout.write(`\n${line(header)}\n${rows.map(line).join("\n")}\n`);
  const failed = results.flatMap((r) => r.checks.filter((c) => !c.ok).map((c) => `${r.label}: ${c.what}`));
  if (failed.length) {
    process.stdout.write(`\nFAILED: ${failed.join("; ")}\n`);
    process.exitCode = 1;
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exitCode = 1;
});
