import { describeDrivers } from "./drivers.js";
import { migrationsSuite } from "./suites/migrations.js";
import { runsSuite } from "./suites/runs.js";

// Migrations first: it checks what the fresh open applied.
describeDrivers("runs", { migrations: migrationsSuite, runs: runsSuite });
