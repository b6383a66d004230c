import {
  type BackendRequest,
  CONTRIBUTION_KINDS,
  formatBackendReport,
  initBackend,
  KIND_FIELDS,
} from "@selfsup/core";
import { loadRegistry } from "../plugins.js";

export interface ListOptions {
  json?: boolean;
  backend?: BackendRequest;
}

/** `selfsup list`: installed plugins and their contributions, and the backend that would train. */
export async function listCommand(opts: ListOptions): Promise<number> {
  const { registry, failures } = await loadRegistry();
  // On wasm, `list` measures once per machine whether threads are faster (cached in $SELFSUP_HOME).
  const backend = await initBackend(opts.backend ?? "auto", { probeWasmThreads: true });
  if (opts.json) {
    const out = {
      backend,
      plugins: registry.listPlugins().map((p) => ({ name: p.name, version: p.version ?? null })),
      contributions: Object.fromEntries(
        CONTRIBUTION_KINDS.map((k) => [
          k,
          registry
            .list(k)
            .map((e) => ({ name: e.spec.name, plugin: e.plugin, description: e.spec.description })),
        ]),
      ),
      failures,
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return failures.length > 0 ? 2 : 0;
  }
  const lines: string[] = [];
  lines.push(
    `plugins: ${registry
      .listPlugins()
      .map((p) => p.name)
      .join(", ")}`,
  );
  for (const kind of CONTRIBUTION_KINDS) {
    const entries = registry.list(kind);
    lines.push(`\n${KIND_FIELDS[kind]} (${entries.length})`);
    const width = Math.max(0, ...entries.map((e) => e.spec.name.length));
    for (const e of entries)
      lines.push(`  ${e.spec.name.padEnd(width)}  ${e.spec.description}  [${e.plugin}]`);
  }
  lines.push("", formatBackendReport(backend));
  for (const f of failures) lines.push(`plugin ${f.packageName} (${f.dir}) failed to load: ${f.error}`);
  process.stdout.write(`${lines.join("\n")}\n`);
  return failures.length > 0 ? 2 : 0;
}
