/**
 * Where `selfsup backend build-native` installs the native TensorFlow binding, and how the backend
 * chooser loads it from there.
 *
 * The binding (`@tensorflow/tfjs-node` or `-gpu`, built against a local libtensorflow) lives in its
 * own npm prefix rather than in the workspace's node_modules, so that no `pnpm install` ever needs,
 * removes or rewrites it, and so that a plain install of selfsup never sees it.
 *
 * Location: `SELFSUP_NATIVE_DIR`, else `${SELFSUP_HOME:-.selfsup}/native` (relative to the working
 * directory, like the runs folder).
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

export type NativePackage = "@tensorflow/tfjs-node" | "@tensorflow/tfjs-node-gpu";

/** The npm prefix that holds the locally built native binding. */
export function nativeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SELFSUP_NATIVE_DIR) return path.resolve(env.SELFSUP_NATIVE_DIR);
  return path.resolve(env.SELFSUP_HOME || ".selfsup", "native");
}

/** The package's directory inside `dir`, if it is installed there. */
export function nativePackageDir(pkg: NativePackage, dir: string = nativeDir()): string | undefined {
  const p = path.join(dir, "node_modules", pkg);
  return existsSync(path.join(p, "package.json")) ? p : undefined;
}

/**
 * Environment defaults for libtensorflow, set before it loads (it reads them once), unless the
 * user set them:
 * - TF_CPP_MIN_LOG_LEVEL=2: no CPU feature notes on stderr at load.
 * - TF_ENABLE_ONEDNN_OPTS=0: TensorFlow's Eigen CPU kernels on every machine. libtensorflow turns
 *   oneDNN's on by itself on CPUs with AVX512-VNNI/BF16/AMX (not on AVX2-only ones). Measured on a 2-core AVX2
 * machine (issue 30) they cut the SimCLR convnet step's CPU time by ~28% at batch 256 and ~11% at
 * 64, but TensorFlow 2.21's oneDNN Conv2DBackpropFilter returned a wrong filter gradient for a 1x1
 * stride-2 "valid" convolution (ResNet's shortcut; relative error 0.44 against the cpu backend,
 * not on every call): core's op-coverage test fails with it on. So off, and the same numbers on
 * every x86 machine; `TF_ENABLE_ONEDNN_OPTS=1` turns it on at that risk (TensorFlow then logs a
 * line through absl at the first op, which TF_CPP_MIN_LOG_LEVEL does not silence).
 */
export function nativeEnvDefaults(env: NodeJS.ProcessEnv = process.env): void {
  env.TF_CPP_MIN_LOG_LEVEL ??= "2";
  env.TF_ENABLE_ONEDNN_OPTS ??= "0";
}

/**
 * Loads `pkg` from the native prefix (CommonJS, like tfjs-node itself). Returns undefined when it
 * is not installed there; throws what loading it throws otherwise.
 */
export function loadNativeFromDir(pkg: NativePackage, dir: string = nativeDir()): string | undefined {
  if (nativePackageDir(pkg, dir) === undefined) return undefined;
  nativeEnvDefaults();
  const req = createRequire(path.join(dir, "package.json"));
  // The package brings its own copy of @tensorflow/tfjs (same version), which re-registers the cpu
  // backend's kernels and the platform into the one global registry: harmless, but it warns once
  // per kernel.
  withoutReregistrationWarnings(() => req(pkg));
  return dir;
}

/**
 * Runs `load` with tfjs' "already registered" / "already been set" warnings silenced (a backend
 * package loaded from its own prefix brings its own tfjs copy, which registers kernels and the
 * platform again into the one global registry); other warnings pass.
 */
export function withoutReregistrationWarnings<T>(load: () => T): T {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    const first = String(args[0] ?? "");
    if (/is already registered|already been set|was already registered/.test(first)) return;
    warn(...args);
  };
  try {
    return load();
  } finally {
    console.warn = warn;
  }
}
