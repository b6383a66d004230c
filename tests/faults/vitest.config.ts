import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: "forks",
    // One file at a time: the cases kill processes, restart PostgreSQL and time requests.
    fileParallelism: false,
    sequence: { concurrent: false },
    globalSetup: ["src/global-setup.ts"],
  },
});
