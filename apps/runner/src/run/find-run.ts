import type { Run, RunStore } from "@selfsup/store";
import { CliError, EXIT } from "../exit-codes.js";

/** A run by id, or by a name only one run has. */
export async function findRun(store: RunStore, idOrName: string): Promise<Run> {
  const byId = /^[A-Za-z0-9_-]{1,64}$/.test(idOrName) ? await store.getRun(idOrName) : null;
  if (byId) return byId;
  const page = await store.listRuns({ filter: { search: idOrName }, first: 50 });
  const exact = page.runs.filter((r) => r.name === idOrName);
  if (exact.length === 1 && exact[0]) return exact[0];
  if (exact.length > 1)
    throw new CliError(
      `${exact.length} runs are named ${JSON.stringify(idOrName)}; use the id: ${exact.map((r) => r.id).join(", ")}`,
      EXIT.usage,
    );
  throw new CliError(`no run with id or name ${JSON.stringify(idOrName)} (see: selfsup runs)`, EXIT.usage);
}
