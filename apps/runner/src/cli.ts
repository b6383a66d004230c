#!/usr/bin/env node
/** The `selfsup` command line. Each command lives in src/commands/; this file only wires them. */
import { Command, Option } from "commander";
import { BACKEND_NAMES, type BackendRequest } from "@selfsup/core";
import { listCommand } from "./commands/list.js";

const program = new Command();
program.name("selfsup").description("Self-supervised learning in TypeScript").showHelpAfterError();

const backendOption = () =>
  new Option("--backend <name>", "tensor backend (SELFSUP_BACKEND overrides)").choices(BACKEND_NAMES).default("auto");

program
  .command("list")
  .description("list installed plugins, methods, backbones, datasets, and the backend that would be used")
  .addOption(backendOption())
  .option("--json", "machine-readable output")
  .action(async (opts: { backend: BackendRequest; json?: boolean }) => {
    process.exitCode = await listCommand(opts);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`selfsup: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
