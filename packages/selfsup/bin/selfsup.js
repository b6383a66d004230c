#!/usr/bin/env node
// The `selfsup` meta package: the runner's CLI with every method package of ours installed next to
// it. The runner discovers plugins from the working directory and its own installation; pointing
// SELFSUP_PLUGIN_ROOT here lets it find the method packages this package depends on under any
// layout (npm's flat node_modules or pnpm's isolated one).
import path from "node:path";
import { fileURLToPath } from "node:url";

process.env.SELFSUP_PLUGIN_ROOT ??= path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
await import("@selfsup/runner/cli");
