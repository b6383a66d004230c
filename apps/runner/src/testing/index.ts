/**
 * `@selfsup/runner/testing`: what the runner's own tests and the fault suite (tests/faults) share
 * to drive the built CLI in child processes. See cli.ts.
 */
export * from "./cli.js";
