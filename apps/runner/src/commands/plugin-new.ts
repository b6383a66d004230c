/**
 * `selfsup plugin new <name>`: writes a working plugin package, the way ours are written: a
 * package.json with the `selfsup` field, one method on core's method kit that trains, a test that
 * runs core's conformance kit on it, a README. Its output builds with `tsc` and passes its own
 * tests (the runner's scaffold test checks both).
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CliError, EXIT } from "../exit-codes.js";

export interface PluginNewOptions {
  /** Directory to create (default: ./<package name without scope>). */
  dir?: string;
  /** Name of the method the skeleton defines (default: derived from the package name). */
  method?: string;
}

const NAME = /^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;

/** "selfsup-plugin-foo" -> "foo"; "@me/selfsup-bar" -> "bar". */
export function methodNameFor(pkg: string): string {
  const base = pkg.replace(/^@[^/]+\//, "").replace(/^selfsup-(plugin-)?/, "");
  return base.replace(/[^a-z0-9-]/g, "-") || "my-method";
}

function className(method: string): string {
  return method
    .split(/[-_.]/)
    .filter((s) => s.length > 0)
    .map((s) => (s[0] as string).toUpperCase() + s.slice(1))
    .join("");
}

async function versionOf(pkg: string): Promise<string> {
  try {
    const url = import.meta.resolve(`${pkg}/package.json`);
    return (JSON.parse(await readFile(fileURLToPath(url), "utf8")) as { version: string }).version;
  } catch {
    return "";
  }
}

/** Names npm refuses although they match the pattern (validate-npm-package-name's list). */
const RESERVED = new Set(["node_modules", "favicon.ico"]);
/** npm's limit on a package name's length (it is also a directory name here). */
const MAX_NAME = 214;

export async function pluginNew(name: string, opts: PluginNewOptions = {}): Promise<string> {
  if (name.length > MAX_NAME) {
    throw new CliError(
      `plugin name is ${name.length} characters long; npm allows at most ${MAX_NAME}`,
      EXIT.usage,
    );
  }
  if (RESERVED.has(name.replace(/^@[^/]+\//, ""))) {
    throw new CliError(
      `plugin name ${JSON.stringify(name)} is reserved by npm (and would shadow a folder Node resolves packages from); choose another, e.g. selfsup-plugin-foo`,
      EXIT.usage,
    );
  }
  if (!NAME.test(name)) {
    throw new CliError(
      `plugin name ${JSON.stringify(name)} is not a valid npm package name (lower case, e.g. selfsup-plugin-foo or @me/selfsup-foo)`,
      EXIT.usage,
    );
  }
  const dir = path.resolve(opts.dir ?? name.replace(/^@[^/]+\//, ""));
  if (existsSync(dir)) throw new CliError(`${dir} already exists; choose another --dir`, EXIT.usage);
  const method = opts.method ?? methodNameFor(name);
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(method)) {
    throw new CliError(
      `method name ${JSON.stringify(method)}: use lower-case letters, digits, '.', '_' or '-'`,
      EXIT.usage,
    );
  }
  const cls = className(method);
  const coreVersion = (await versionOf("@selfsup/core")) || "0.1.0";
  const files = templates({ name, method, cls, coreVersion });
  // Written into a temporary sibling, then renamed: a failure leaves no half-made package.
  const tmp = `${dir}.tmp-${process.pid}`;
  for (const [rel, text] of Object.entries(files)) {
    const file = path.join(tmp, rel);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, text);
  }
  await rename(tmp, dir);
  return dir;
}

interface TemplateArgs {
  name: string;
  method: string;
  cls: string;
  coreVersion: string;
}

export function templates(a: TemplateArgs): Record<string, string> {
  const pkg = {
    name: a.name,
    version: "0.1.0",
    description: `selfsup plugin: the ${a.method} method`,
    license: "MIT",
    type: "module",
    main: "./dist/plugin.js",
    types: "./dist/plugin.d.ts",
    exports: { ".": { types: "./dist/plugin.d.ts", import: "./dist/plugin.js" } },
    files: ["dist", "README.md"],
    selfsup: { plugin: "./dist/plugin.js" },
    scripts: { build: "tsc -p tsconfig.build.json", test: "vitest run" },
    peerDependencies: { "@selfsup/core": `^${a.coreVersion}` },
    dependencies: { zod: "^4.1.0" },
    devDependencies: { "@selfsup/core": `^${a.coreVersion}`, typescript: "^5.9.0 || ^7.0.0", vitest: ">=3" },
  };
  const compilerOptions = {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    lib: ["ES2023"],
    strict: true,
    declaration: true,
    skipLibCheck: true,
    verbatimModuleSyntax: true,
    types: ["node"],
  };
  return {
    "package.json": `${JSON.stringify(pkg, null, 2)}\n`,
    "tsconfig.json": `${JSON.stringify({ compilerOptions: { ...compilerOptions, noEmit: true }, include: ["src", "test"] }, null, 2)}\n`,
    "tsconfig.build.json": `${JSON.stringify({ compilerOptions: { ...compilerOptions, outDir: "dist", rootDir: "src" }, include: ["src"] }, null, 2)}\n`,
    "vitest.config.ts": `import { defineConfig } from "vitest/config";

export default defineConfig({ test: { include: ["test/**/*.test.ts"], testTimeout: 120_000, pool: "forks" } });
`,
    "src/plugin.ts": `/** The plugin selfsup discovers through package.json's "selfsup": { "plugin" } field. */
import { definePlugin } from "@selfsup/core";
import { ${a.cls.charAt(0).toLowerCase() + a.cls.slice(1)}Method } from "./methods/${a.method}.js";

export default definePlugin({
  name: ${JSON.stringify(a.name)},
  version: "0.1.0",
  // Adding a method: its file in src/methods/, its test, and one entry here.
  methods: [${a.cls.charAt(0).toLowerCase() + a.cls.slice(1)}Method],
});
`,
    [`src/methods/${a.method}.ts`]: `/**
 * ${a.method}: a starting point. Alignment and uniformity on the hypersphere (Wang & Isola,
 * "Understanding Contrastive Representation Learning through Alignment and Uniformity on the
 * Hypersphere", ICML 2020, https://arxiv.org/abs/2005.10242):
 *
 *   z = normalize(projector(backbone(x)))       for two augmented views
 *   align     = mean_i ||z1_i - z2_i||^2
 *   uniform   = log mean_{i != j} exp(-t ||z_i - z_j||^2), over both views' embeddings
 *   loss      = align + uniformWeight * uniform
 *
 * Replace the math in trainStep with your method's; declare modules with the kit (addBackbone,
 * addProjector, addPredictor, addMomentumEncoder, module, momentumCopyOf, stateVariable) and the
 * rest follows; sizeOption and projectorWidthOptions declare width options.
 */
import {
  defaultBackboneFor,
  defineMethod,
  l2Normalize,
  MethodBase,
  projectorWidths,
  sizeOption,
  type StepContext,
  type StepResult,
  type TrainBatch,
  tf,
  twoViews,
} from "@selfsup/core";
import { z } from "zod";

export const ${a.cls.charAt(0).toLowerCase() + a.cls.slice(1)}Options = z.object({
  projectorDim: sizeOption(128, "embedding dimension"),
  t: z.number().positive().default(2).describe("uniformity temperature"),
  uniformWeight: z.number().nonnegative().default(1).describe("weight of the uniformity term"),
});
export type ${a.cls}Options = z.output<typeof ${a.cls.charAt(0).toLowerCase() + a.cls.slice(1)}Options>;

/** log mean_{i != j} exp(-t ||z_i - z_j||^2) for unit rows z [N, D]. */
export function uniformity(z: tf.Tensor2D, t: number): tf.Scalar {
  return tf.tidy(() => {
    const n = z.shape[0];
    const sq = tf.mul(tf.sub(1, tf.matMul(z, z, false, true)), 2); // ||a-b||^2 = 2 - 2 a.b for unit rows
    const offDiagonal = tf.sub(1, tf.eye(n));
    const k = tf.mul(tf.exp(tf.mul(sq, -t)), offDiagonal);
    return tf.log(tf.div(tf.sum(k), n * (n - 1))) as tf.Scalar;
  });
}

export class ${a.cls} extends MethodBase<${a.cls}Options> {
  readonly views = 2;
  readonly backbone = this.addBackbone();
  readonly projector = this.addProjector({ layers: 2, batchNorm: true, ...projectorWidths(this.options) });

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const [v1, v2] = twoViews(batch, this.name);
    return ctx.minimize(() => {
      const z1 = l2Normalize(this.embed(v1)) as tf.Tensor2D;
      const z2 = l2Normalize(this.embed(v2)) as tf.Tensor2D;
      const align = tf.mean(tf.sum(tf.square(tf.sub(z1, z2)), 1)) as tf.Scalar;
      const uniform = uniformity(tf.concat([z1, z2], 0) as tf.Tensor2D, this.options.t);
      const loss = tf.add(align, tf.mul(uniform, this.options.uniformWeight)) as tf.Scalar;
      return { loss, metrics: { align, uniform } };
    });
  }
}

export const ${a.cls.charAt(0).toLowerCase() + a.cls.slice(1)}Method = defineMethod({
  name: ${JSON.stringify(a.method)},
  description: "Alignment + uniformity of normalised embeddings of two views (Wang & Isola 2020)",
  family: "contrastive",
  paper: {
    title: "Understanding Contrastive Representation Learning through Alignment and Uniformity on the Hypersphere",
    url: "https://arxiv.org/abs/2005.10242",
  },
  inputs: ["image"],
  options: ${a.cls.charAt(0).toLowerCase() + a.cls.slice(1)}Options,
  tinyOptions: { projectorDim: 8 },
  defaultBackbone: defaultBackboneFor,
  create: (opts, ctx) => new ${a.cls}(opts, ctx),
});
`,
    "test/conformance.test.ts": `import { describeMethodConformance } from "@selfsup/core/testing";
import plugin from "../src/plugin.js";

// core's conformance kit (options, finite loss, loss falls, no leaks, checkpoint round trip,
// determinism) on every method of this plugin, with each spec's tinyOptions.
for (const spec of plugin.methods ?? []) {
  describeMethodConformance(spec, { input: { kind: "image", height: 8, width: 8, channels: 1 } });
}
`,
    "README.md": `# ${a.name}

A [selfsup](https://www.npmjs.com/package/selfsup) plugin with one method, \`${a.method}\`.

\`\`\`sh
npm install && npm run build && npm test   # builds and runs selfsup's conformance kit
npx selfsup list                           # from a project that has @selfsup/runner and this package
npx selfsup train --method ${a.method} --dataset mnist --epochs 1
\`\`\`

Write the method in \`src/methods/${a.method}.ts\`; \`src/plugin.ts\` lists it. The plugin API and
the conformance kit are described in selfsup's docs/plugins.md.
`,
  };
}
