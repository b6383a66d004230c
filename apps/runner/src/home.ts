/** Where runs live on disk: `${SELFSUP_HOME ?? '.selfsup'}/runs/<id>/` (checkpoints, artifacts). */
import path from "node:path";

export function selfsupHome(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.SELFSUP_HOME || ".selfsup");
}

export function runsRoot(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(selfsupHome(env), "runs");
}

export function runDirFor(runId: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(runsRoot(env), runId);
}
