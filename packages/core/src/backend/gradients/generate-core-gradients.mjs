#!/usr/bin/env node
/**
 * Generates core-gradients.generated.ts from the installed @tensorflow/tfjs-core. Runs before every
 * build, typecheck and test of @selfsup/core (package.json scripts, vitest global set-up; ~0.2 s);
 * the output is git-ignored and ships only compiled, in dist/: the repository holds no upstream code.
 *
 * Why: tfjs-core registers no gradient at all unless `dist/register_all_gradients` is imported, and
 * that file (like all of tfjs-core's `dist/*.js` besides the bundles) is extension-less ESM inside a
 * CommonJS package, so plain Node cannot import it; only bundlers can. The union package
 * `@tensorflow/tfjs` inlines the same code into its own bundle. We instead take the original
 * TypeScript of every gradient from the source maps that tfjs-core ships and rewrite its imports to
 * the public API of the one tfjs-core instance (internal ops go through `./internal-ops.ts`).
 *
 * Usage (from packages/core): node src/backend/gradients/generate-core-gradients.mjs
 * Why not `@tensorflow/tfjs` instead (its Node bundle registers the same gradients into the shared
 * registry): see docs/architecture.md, "Gradients" (measured: +~225 MB install, +~95 ms start-up).
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const corePkg = require.resolve("@tensorflow/tfjs-core/package.json");
const coreDir = path.dirname(corePkg);
const coreVersion = JSON.parse(fs.readFileSync(corePkg, "utf8")).version;
const tf = require("@tensorflow/tfjs-core");

function tsSource(jsFile) {
  const s = fs.readFileSync(jsFile, "utf8");
  const m = s.match(/sourceMappingURL=data:application\/json;base64,(.*)$/m);
  if (!m) throw new Error(`no inline source map in ${jsFile}`);
  return JSON.parse(Buffer.from(m[1], "base64").toString()).sourcesContent[0];
}

/** Names that the gradients import from tfjs-core internals, provided by ./internal-ops.ts. */
const INTERNAL = new Set([
  "ENGINE",
  "conv2DBackpropFilter",
  "conv2DBackpropInput",
  "maxPoolGrad",
  "maxPool3dGrad",
  "avgPoolGrad",
  "avgPool3dGrad",
  "depthwiseConv2dNativeBackpropInput",
  "depthwiseConv2dNativeBackpropFilter",
  "localResponseNormalizationBackprop",
  "conv3DBackpropInput",
  "conv3DBackpropFilter",
  "parseAxisParam",
  "parseSliceParams",
  "SELU_SCALE",
  "SELU_SCALEALPHA",
  "getReductionAxes",
  "assertAndGetBroadcastShape",
  "getAxesPermutation",
  "getUndoAxesPermutation",
  "computeOutAndReduceShapes",
  "tupleValuesAreOne",
  "conv_util",
  "axis_util",
]);
/** Namespaces that are public in tfjs-core. */
const PUBLIC_NS = new Set(["util", "broadcast_util"]);

const coreValues = new Set();
const coreTypes = new Set();
const internals = new Set();
/** Upstream gradients that call chained ops, rewritten to the functional ops. */
const CHAINED_FIXES = {
  GatherV2_grad: [
    ["x.split(batchSize, 0)", "split(x, batchSize, 0)"],
    ["indices.slice(i,1)", "slice(indices, i, 1)"],
    ["dy.slice(i,1)", "slice(dy, i, 1)"],
    ["stacked.reshape(x.shape)", "reshape(stacked, x.shape)"],
  ],
  Prod_grad: [
    ["permutedX.reshape(newShape)", "reshape(permutedX, newShape)"],
    ["prodGrad.reshape(permutedX.shape)", "reshape(prodGrad, permutedX.shape)"],
  ],
};
for (const n of ["split", "slice", "reshape", "stack"]) coreValues.add(n);

const gradDir = path.join(coreDir, "dist", "gradients");
const registerAll = tsSource(path.join(coreDir, "dist", "register_all_gradients.js"));
const order = [...registerAll.matchAll(/^\s+(\w+GradConfig),?$/gm)].map((m) => m[1]);

const files = fs.readdirSync(gradDir).filter((f) => f.endsWith(".js") && !f.includes("_test"));
const units = new Map(); // file base -> {body, localDeps}
for (const f of files) {
  const base = f.replace(/\.js$/, "");
  let src = tsSource(path.join(gradDir, f));
  src = src.replace(/^\/\*\*[\s\S]*?\*\/\s*/, ""); // licence header, reproduced once on top
  const localDeps = [];
  src = src.replace(/^import\s+([\s\S]*?)\s+from\s+'([^']+)';\s*$/gm, (_all, what, from) => {
    if (from.startsWith("./")) {
      localDeps.push(from.slice(2));
      return "";
    }
    const ns = what.match(/^\*\s+as\s+(\w+)$/);
    if (ns) {
      if (PUBLIC_NS.has(ns[1])) coreValues.add(ns[1]);
      else if (INTERNAL.has(ns[1])) internals.add(ns[1]);
      else throw new Error(`${f}: unknown namespace import ${ns[1]} from ${from}`);
      return "";
    }
    for (const raw of what.replace(/[{}]/g, "").split(",")) {
      const name = raw.trim();
      if (!name) continue;
      if (name.includes(" as ")) throw new Error(`${f}: renamed import ${name}`);
      if (INTERNAL.has(name)) internals.add(name);
      else if (name in tf) coreValues.add(name);
      else coreTypes.add(name);
    }
    return "";
  });
  // Upstream compiles without strictFunctionTypes: its gradFuncs declare `dy: Tensor` where
  // GradFunc says `Tensor | Tensor[]`. A method-style signature (bivariant) keeps them as written.
  src = src.replace(/: GradConfig = \{/g, ": UpstreamGradConfig = {");
  // Chained ops (`t.reshape(...)`) exist only after register_all_chained_ops, which we do not load.
  for (const [from, to] of CHAINED_FIXES[base] ?? []) {
    if (!src.includes(from)) throw new Error(`${f}: expected \`${from}\` (upstream changed?)`);
    src = src.split(from).join(to);
  }
  units.set(base, { body: src.replace(/\n{3,}/g, "\n\n").trim(), localDeps });
}

// Emit helpers before their users.
const emitted = new Set();
const out = [];
function emit(base) {
  if (emitted.has(base)) return;
  emitted.add(base);
  const u = units.get(base);
  if (!u) throw new Error(`missing ${base}`);
  for (const d of u.localDeps) emit(d);
  out.push(`// ---- ${base}.ts\n${u.body}\n`);
}
for (const base of [...units.keys()].sort()) emit(base);

const header = `/**
 * @license Apache-2.0. Copyright Google LLC. GENERATED at build time by
 * src/backend/gradients/generate-core-gradients.mjs (see it for why); git-ignored, do not edit.
 *
 * The gradient functions of @tensorflow/tfjs-core ${coreVersion} (src/gradients/*.ts, taken from the
 * source maps it ships), with imports rewritten to its public API so that they register into the
 * one tfjs-core instance of the workspace.
 */
// @ts-nocheck -- upstream type-checks this code without strictNullChecks/strictFunctionTypes.
// biome-ignore-all lint: generated code, kept as close to upstream as possible
`;
const importCore = `import {\n${[...coreValues]
  .sort()
  .map((n) => `  ${n},`)
  .join("\n")}\n${[...coreTypes]
  .sort()
  .map((n) => `  type ${n},`)
  .join("\n")}\n} from "@tensorflow/tfjs-core";\n`;
const importInternal = `import {\n${[...internals]
  .sort()
  .map((n) => `  ${n},`)
  .join("\n")}\n} from "./internal-ops.js";\n`;
const upstreamType = `
/** GradConfig with a method-style (bivariant) gradFunc, as upstream's non-strict build checks it. */
interface UpstreamGradConfig {
  kernelName: string;
  inputsToSave?: string[];
  saveAllInputs?: boolean;
  outputsToSave?: boolean[];
  gradFunc(dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap): { [name: string]: () => Tensor };
}
`;
const list = `\n/** Every gradient of tfjs-core, in the order of its register_all_gradients.ts. */\nexport const CORE_GRAD_CONFIGS: GradConfig[] = [\n${order
  .map((n) => `  ${n},`)
  .join("\n")}\n];\n`;
const target = path.join(here, "core-gradients.generated.ts");
const text = `${header}${importCore}${importInternal}${upstreamType}\n${out.join("\n")}${list}`;
// Rewrite only on change, so tsc's and vitest's caches stay valid.
const previous = fs.existsSync(target) ? fs.readFileSync(target, "utf8") : "";
if (previous !== text) {
  fs.writeFileSync(`${target}.tmp`, text);
  fs.renameSync(`${target}.tmp`, target);
}
if (!process.argv.includes("--quiet")) {
  console.log(
    `core-gradients.generated.ts: ${units.size} files, ${order.length} configs (tfjs-core ${coreVersion})`,
  );
}
