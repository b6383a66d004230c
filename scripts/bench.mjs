#!/usr/bin/env node
/**
 * `pnpm bench [target...]`: builds, then runs the named benches, or all of them.
 *   runner     the runner's bench: kernels, supervised sanity run, one quality section per
 *              installed method plugin (node apps/runner/dist/cli.js bench)
 *   dashboard  store queries on PGlite and PostgreSQL (TEST_DATABASE_URL), writer, HTTP, first paint
 *   data       a folder of generated photos: today's loader, the worker pool cold, the cache warm,
 *              alone and feeding a SimCLR step, against the step on synthetic tensors
 *   sweep      (only when named) a SimCLR sweep on PostgreSQL with two `selfsup worker`s, one killed
 *              with kill -9: TPE + ASHA against random search without early stopping (needs
 *              DATABASE_URL or TEST_DATABASE_URL; ~30 min on 2 cores with the native backend)
 *   <section>  any other name is a section of the runner's bench, run alone: throughput, kernels,
 *              supervised, contrastive, pretext, mim, ... (`pnpm bench throughput`)
 * Arguments after `--` go to each bench, e.g. `pnpm bench dashboard -- --runs 20000 --no-http`.
 */
import { spawnSync } from "node:child_process";

const BENCHES = {
  runner: ["node", ["apps/runner/dist/cli.js", "bench"]],
  dashboard: ["node", ["apps/dashboard/bench/bench.mjs"]],
  data: ["node", ["apps/runner/dist/bench/data.js"]], // own folders of photos: loader, cache, SimCLR fed by it
  sweep: ["node", ["apps/runner/dist/bench/sweep.js"]], // PostgreSQL + two workers; only when named
};
/** Benches `pnpm bench` with no names leaves out (long, or needing a server). */
const ONLY_NAMED = new Set(["sweep"]);
const argv = process.argv.slice(2);
const dash = argv.indexOf("--");
const names = dash < 0 ? argv : argv.slice(0, dash);
const extra = dash < 0 ? [] : argv.slice(dash + 1);
// Names that are not whole benches are sections of the runner's bench (it refuses unknown ones).
const sections = names.filter((n) => !(n in BENCHES));
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
run("pnpm", ["build"]);
if (sections.length > 0) run("node", ["apps/runner/dist/cli.js", "bench", ...sections, ...extra]);
const whole = names.filter((n) => n in BENCHES);
for (const name of names.length ? whole : Object.keys(BENCHES).filter((n) => !ONLY_NAMED.has(n))) {
  const [cmd, args] = BENCHES[name];
  run(cmd, [...args, ...extra]);
}
