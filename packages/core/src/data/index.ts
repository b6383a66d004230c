import type { DatasetSpec } from "../plugin/types.js";

export const builtinDatasets: DatasetSpec[] = [];
