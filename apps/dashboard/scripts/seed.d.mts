import type { Run, RunStore } from "@selfsup/store";

export declare function rng(seed?: number): () => number;
export declare const METHODS: Array<{ method: string; family: string; options: Record<string, unknown> }>;
export declare const DATASETS: string[];
export declare const BACKBONES: string[];
export declare function encodePng(
  width: number,
  height: number,
  pixel: (x: number, y: number) => [number, number, number],
): Uint8Array;
export declare function runCurves(
  rand: () => number,
  steps: number,
  quality: number,
  t0: number,
): Array<{ key: string; step: number; value: number; wallTime: Date }>;
export declare function seedDemo(
  store: RunStore,
  options?: {
    count?: number;
    withMetrics?: number;
    points?: number;
    seed?: number;
    running?: boolean;
    now?: number;
  },
): Promise<Run[]>;
export declare function seedBulk(
  store: RunStore,
  options?: { runs?: number; points?: number; chunk?: number; olderThanHours?: number },
): Promise<Run | null>;
