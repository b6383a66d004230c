/**
 * `@selfsup/runner/testing`: what the runner's own tests, the dashboard's end-to-end tests and the
 * fault suite (tests/faults) share: the built CLI in child processes (cli.ts) and a built Next.js
 * app on a free port (next-app.ts, the dashboard).
 */
export * from "./cli.js";
export * from "./next-app.js";
