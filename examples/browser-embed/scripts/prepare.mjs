// Writes model/ for the page from a trained run: the TF.js graph model (`selfsup export --format
// tfjs`) and the embeddings the page searches (`selfsup embed --split train`, JSONL).
// Usage: node scripts/prepare.mjs <run id or name> [--limit 2000] [--out dir]
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

/** The `selfsup` CLI of the installed @selfsup/runner (its exports are import-only, so found on disk). */
export function selfsupCli() {
  for (let dir = here; ; dir = path.dirname(dir)) {
    const cli = path.join(dir, "node_modules", "@selfsup", "runner", "dist", "cli.js");
    if (existsSync(cli)) return cli;
    if (path.dirname(dir) === dir)
      throw new Error("@selfsup/runner is not installed (node_modules/@selfsup/runner/dist/cli.js)");
  }
}

export function prepare(run, { out = path.join(here, "..", "model"), limit = 2000, env = process.env } = {}) {
  const selfsup = (...args) => {
    const r = spawnSync(process.execPath, [selfsupCli(), ...args], { env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`selfsup ${args.join(" ")} failed (${r.status}):\n${r.stderr}`);
  };
  selfsup("export", run, "--format", "tfjs", "--out", out, "--force", "-q");
  selfsup(
    "embed",
    run,
    "--split",
    "train",
    "--limit",
    String(limit),
    "--out",
    path.join(out, "neighbours.jsonl"),
    "--force",
    "-q",
  );
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [run] = process.argv.slice(2);
  if (!run) {
    console.error("usage: node scripts/prepare.mjs <run id or name> [--limit N] [--out dir]");
    process.exit(2);
  }
  const arg = (name) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const out = prepare(run, {
    ...(arg("--out") ? { out: path.resolve(arg("--out")) } : {}),
    ...(arg("--limit") ? { limit: Number(arg("--limit")) } : {}),
  });
  console.log(`wrote ${out}; now: pnpm serve`);
}
