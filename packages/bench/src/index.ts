/**
 * `@selfsup/bench`: selfsup's benchmark harness, kept out of `@selfsup/core` (a harness, not library
 * code a plugin or a user's program needs). By concern:
 *
 * - main.ts       sections and their runner (`runBench`, `addBenchSection`: where sections plug in)
 * - protocol.ts   the quality protocol: pretrain each method on the digits, hand prerequisites over
 * - scoring.ts    scoring a frozen encoder (kNN, few-label probes, fine-tuning) and pooling seeds
 * - rows.ts       the quality rows' types
 * - tables.ts     the quality tables (log and Markdown)
 * - plot.ts       quality against pretraining time (Vega-Lite -> SVG -> PNG)
 * - throughput.ts, kernels.ts, supervised.ts: the other sections
 *
 * It calls core's evaluators (kNN, linear probe, few-label, fine-tune), which stay in core.
 */
export * from "./floor.js";
export * from "./kernels.js";
export * from "./main.js";
export * from "./plot.js";
export * from "./protocol.js";
export * from "./rows.js";
export * from "./scoring.js";
export * from "./supervised.js";
export * from "./tables.js";
export * from "./throughput.js";
