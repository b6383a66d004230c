import { describe, expect, it } from "vitest";
import { addBenchSection, benchSections, parseBenchArgs, runBench } from "../src/main.js";

describe("pnpm bench entry", () => {
  it("parses its flags and refuses unknown ones clearly", () => {
    expect(
      parseBenchArgs(["--backend", "cpu", "--only", "kernels,supervised", "--epochs", "2", "--quick"]),
    ).toEqual({
      backend: "cpu",
      only: ["kernels", "supervised"],
      epochs: 2,
      quick: true,
      store: true,
    });
    expect(parseBenchArgs([])).toEqual({ backend: "auto", quick: false, store: true });
    expect(parseBenchArgs(["quality", "--methods", "simclr,vicreg", "--seeds", "2", "--no-store"])).toEqual({
      backend: "auto",
      quick: false,
      only: ["quality"],
      methods: ["simclr", "vicreg"],
      seeds: 2,
      store: false,
    });
    expect(() => parseBenchArgs(["--seeds", "0"])).toThrow(/--seeds must be a positive integer/);
    expect(() => parseBenchArgs(["--backend", "tpu"])).toThrow(
      /--backend tpu is not one of auto, tensorflow-gpu/,
    );
    expect(() => parseBenchArgs(["--fast"])).toThrow(/unknown argument --fast/);
  });

  it("lets other packages add sections, runs only the selected ones and reports failures", async () => {
    const ran: string[] = [];
    addBenchSection({
      name: "test-a",
      description: "a",
      run: async (ctx) => void ran.push(`a ${ctx.backend.backend}`),
    });
    addBenchSection(
      {
        name: "test-b",
        description: "b",
        run: async () => {
          throw new Error("boom");
        },
      },
      { before: "test-a" },
    );
    expect(benchSections.map((s) => s.name)).toEqual(["kernels", "supervised", "test-b", "test-a"]);
    expect(() => addBenchSection({ name: "test-a", description: "", run: async () => {} })).toThrow(
      /already registered/,
    );
    const lines: string[] = [];
    const failed = await runBench(["--backend", "cpu", "--only", "test-a,test-b"], (l) => void lines.push(l));
    expect(ran).toEqual(["a cpu"]);
    expect(failed).toEqual(["test-b"]);
    expect(lines.join("\n")).toMatch(/== test-b: b\n {2}FAILED: Error: boom/);
    await expect(runBench(["--only", "nope"])).rejects.toThrow(/unknown section\(s\) nope/);
  });
});
