/**
 * Creating an embedded PGlite database (initdb + migrations) takes 5-15 s on a busy 2-core box;
 * copying one takes 0.2 s. So the suite initialises one migrated database up front and each test
 * home starts from a copy of it (`tempHome()` in helpers.ts).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { openStore } from "@selfsup/store";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    pgliteTemplate: string;
  }
}

let dir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  dir = await mkdtemp(path.join(tmpdir(), "selfsup-runner-template-"));
  const store = await openStore({ dataDir: path.join(dir, "db") });
  await store.close();
  project.provide("pgliteTemplate", path.join(dir, "db"));
}

export async function teardown(): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}
