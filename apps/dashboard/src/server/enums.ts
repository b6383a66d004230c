/**
 * The run-time values behind the GraphQL enums: the store's own lower-case strings, so values
 * pass between the API and @selfsup/store unconverted. scripts/codegen.mjs maps the generated
 * types onto these, and resolvers/index.ts hands the objects to the schema as enum resolvers.
 */
import type { SeriesXAxis, RunStatus as StoreRunStatus } from "@selfsup/store";

export const RunStatus = {
  QUEUED: "queued",
  RUNNING: "running",
  FINISHED: "finished",
  FAILED: "failed",
  INTERRUPTED: "interrupted",
  CANCELLED: "cancelled",
} as const satisfies Record<string, StoreRunStatus>;
export type RunStatus = (typeof RunStatus)[keyof typeof RunStatus];

export const SortDirection = { ASC: "asc", DESC: "desc" } as const;
export type SortDirection = (typeof SortDirection)[keyof typeof SortDirection];

export const RunOrderField = {
  CREATED_AT: "created_at",
  NAME: "name",
  STARTED_AT: "started_at",
  FINISHED_AT: "finished_at",
  SUMMARY: "summary",
} as const;
export type RunOrderField = (typeof RunOrderField)[keyof typeof RunOrderField];

export const XAxis = {
  STEP: "step",
  WALL_TIME: "wall_time",
  RELATIVE_TIME: "relative_time",
} as const satisfies Record<string, SeriesXAxis>;
export type XAxis = (typeof XAxis)[keyof typeof XAxis];

export const BucketValue = { MEAN: "mean", LAST: "last" } as const;
export type BucketValue = (typeof BucketValue)[keyof typeof BucketValue];

export const Role = { ANONYMOUS: "anonymous", READ: "read", WRITE: "write" } as const;
export type Role = (typeof Role)[keyof typeof Role];
