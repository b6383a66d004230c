#!/usr/bin/env node
/**
 * `pnpm bench [target...]`: builds, then runs the named benches, or all of them.
 *   runner     training / data-loader figures (node apps/runner/dist/cli.js bench)
 *   dashboard  store queries on PGlite and PostgreSQL (TEST_DATABASE_URL), writer, HTTP, first paint
 * Arguments after `--` go to each bench, e.g. `pnpm bench dashboard -- --runs 20000 --no-http`.
 */
import { spawnSync } from "node:child_process";

const BENCHES = {
  runner: ["node", ["apps/runner/dist/cli.js", "bench"]],
  dashboard: ["node", ["apps/dashboard/bench/bench.mjs"]],
};
const argv = process.argv.slice(2);
const dash = argv.indexOf("--");
const names = dash < 0 ? argv : argv.slice(0, dash);
const extra = dash < 0 ? [] : argv.slice(dash + 1);
const unknown = names.filter((n) => !(n in BENCHES));
if (unknown.length) {
  console.error(`unknown bench ${unknown.join(", ")}; choose from: ${Object.keys(BENCHES).join(", ")}`);
  process.exit(2);
}
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
run("pnpm", ["build"]);
for (const name of names.length ? names : Object.keys(BENCHES)) {
  const [cmd, args] = BENCHES[name];
  run(cmd, [...args, ...extra]);
}
