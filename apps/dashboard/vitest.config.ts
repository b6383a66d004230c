import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module) copies; Node loads @apollo/server's "graphql"
    // as CJS, so our sources must get the same copy or the schema is "from another realm".
    alias: [{ find: /^graphql$/, replacement: require.resolve("graphql") }],
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 240_000,
    pool: "forks",
    // expect.poll waits for the browser (first requests also open the store).
    expect: { poll: { timeout: 20_000, interval: 100 } },
    // Each file opens its own embedded Postgres (and the e2e file a browser and a server): on
    // two shared cores they run faster one after the other than fighting.
    fileParallelism: false,
  },
});
