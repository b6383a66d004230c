import { describe, expect, it } from "vitest";
import {
  blockSize,
  type MultiBlockOptions,
  multiBlockMasks,
  multiBlockProblems,
} from "../../src/augment/multi-block.js";
import { Rng } from "../../src/rng.js";

const IJEPA: MultiBlockOptions = {
  targets: 4,
  targetScale: [0.15, 0.2],
  targetAspect: [0.75, 1.5],
  contextScale: [0.85, 1],
  minKeep: 10,
};

/** True when `idx` (row-major on a gw-wide grid) is a full h x w rectangle. */
function isRectangle(idx: number[], gw: number): boolean {
  const rows = idx.map((i) => Math.floor(i / gw));
  const cols = idx.map((i) => i % gw);
  const h = Math.max(...rows) - Math.min(...rows) + 1;
  const w = Math.max(...cols) - Math.min(...cols) + 1;
  return h * w === idx.length && new Set(idx).size === idx.length;
}

describe("multi-block masks (I-JEPA)", () => {
  it("block sizes follow the reference: floor(N s) patches, sides capped below the grid", () => {
    expect(blockSize(16, 16, 0.2, 1)).toEqual([7, 7]); // floor(51.2) = 51, sqrt = 7.1
    expect(blockSize(16, 16, 0.15, 1.5)).toEqual([8, 5]); // 38: sqrt(57) = 7.5 -> 8, sqrt(25.3) = 5
    expect(blockSize(14, 14, 1, 1)).toEqual([13, 13]); // the full grid, capped below it
    expect(blockSize(4, 4, 0.15, 1)).toEqual([1, 1]); // floor(2.4) = 2 patches: sqrt(2) rounds to 1
  });

  it("4 rectangular target blocks and one context without target patches per image, equal counts", () => {
    const [gh, gw] = [14, 14];
    const m = multiBlockMasks(new Rng(1), 16, gh, gw, IJEPA);
    expect(m.targets).toHaveLength(4);
    expect(m.context).toHaveLength(16);
    for (const block of m.targets) {
      expect(block).toHaveLength(16);
      for (const idx of block) {
        expect(idx).toHaveLength(m.targetCount);
        expect(isRectangle(idx, gw)).toBe(true);
      }
    }
    // target size 0.15-0.2 of 196 patches: 29-39 patches in a rectangle of aspect 0.75-1.5
    expect(m.targetCount).toBeGreaterThanOrEqual(25);
    expect(m.targetCount).toBeLessThanOrEqual(42);
    expect(m.contextCount).toBeGreaterThan(IJEPA.minKeep);
    m.context.forEach((ctx, b) => {
      expect(ctx).toHaveLength(m.contextCount);
      expect([...ctx].sort((x, y) => x - y)).toEqual(ctx); // ascending, as vit-tiny keeps tokens
      const targets = new Set(m.targets.flatMap((block) => block[b] as number[]));
      // no relaxation is needed on a 14x14 grid: the context never holds a target patch
      for (const i of ctx) expect(targets.has(i)).toBe(false);
    });
    // images place their blocks independently
    expect(new Set(m.targets[0]?.map((idx) => idx[0])).size).toBeGreaterThan(1);
  });

  it("is deterministic given the rng", () => {
    const a = multiBlockMasks(new Rng(7), 4, 7, 7, { ...IJEPA, minKeep: 4 });
    const b = multiBlockMasks(new Rng(7), 4, 7, 7, { ...IJEPA, minKeep: 4 });
    expect(a).toEqual(b);
  });

  it("names what cannot fit: a grid under 2x2, empty target blocks, a context below minKeep", () => {
    expect(multiBlockProblems(1, 1, IJEPA)[0]).toMatch(/1x1 patch grid is too small/);
    expect(multiBlockProblems(2, 2, IJEPA).join()).toMatch(
      /targetScale 0.15 .* 0x0 patches: nothing to predict; raise targetScale to at least 0.25/,
    );
    expect(multiBlockProblems(4, 4, IJEPA).join()).toMatch(
      /3x3 context block, which can never keep more than minKeep = 10 patches; lower minKeep below 9/,
    );
    expect(multiBlockProblems(4, 4, { ...IJEPA, minKeep: 4 })).toEqual([]);
    expect(multiBlockProblems(14, 14, { ...IJEPA, targetScale: [0.3, 0.2] }).join()).toMatch(
      /targetScale \[0.3, 0.2\]/,
    );
    expect(() => multiBlockMasks(new Rng(0), 2, 2, 2, IJEPA)).toThrow(
      /multi-block masks: .*nothing to predict/,
    );
  });
});
