/**
 * Global setup of the fault suite: a migrated PGlite template (copied per case: creating one
 * costs seconds, copying it 0.2 s), a private PostgreSQL cluster from .ci/start-postgres.sh (its
 * own directory, so restarting it disturbs nothing else; absent PostgreSQL skips those cases with
 * a message), and the results file whose tables are printed at the end.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { openStore } from "@selfsup/store";
import type { TestProject } from "vitest/node";
import { REPO_ROOT } from "./paths.js";
import { formatReport, readRows } from "./report.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgliteTemplate: string;
    /** postgres:// URL of the suite's private cluster, or "" when PostgreSQL is not installed. */
    pgUrl: string;
    pgDir: string;
    resultsFile: string;
  }
}

let dir: string | undefined;
let pgDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  dir = await mkdtemp(path.join(tmpdir(), "selfsup-faults-"));
  const results = path.join(dir, "results.jsonl");
  process.env.SELFSUP_FAULTS_RESULTS = results;
  project.provide("resultsFile", results);
  const store = await openStore({ dataDir: path.join(dir, "template", "db") });
  await store.close();
  project.provide("pgliteTemplate", path.join(dir, "template", "db"));

  let pgUrl = "";
  pgDir = path.join(tmpdir(), `selfsup-faults-pg-${process.pid}`);
  try {
    const out = execFileSync("bash", [path.join(REPO_ROOT, ".ci", "start-postgres.sh")], {
      env: { ...process.env, SELFSUP_PG_DIR: pgDir, SELFSUP_PG_DB: "selfsup_faults" },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    pgUrl = /TEST_DATABASE_URL=(\S+)/.exec(out)?.[1] ?? "";
  } catch (err) {
    console.warn(
      `[faults] no PostgreSQL cluster (${(err as Error).message.split("\n")[0]}); its cases are skipped`,
    );
    pgDir = undefined;
  }
  project.provide("pgUrl", pgUrl);
  project.provide("pgDir", pgDir ?? "");
}

export async function teardown(): Promise<void> {
  const results = process.env.SELFSUP_FAULTS_RESULTS;
  if (results) console.log(formatReport(readRows(results)));
  if (pgDir) {
    try {
      execFileSync("bash", [path.join(REPO_ROOT, ".ci", "start-postgres.sh"), "--stop"], {
        env: { ...process.env, SELFSUP_PG_DIR: pgDir },
        stdio: "ignore",
      });
    } catch {
      // best effort
    }
  }
  if (dir) await rm(dir, { recursive: true, force: true });
}
