/**
 * Builds the native TensorFlow backend from source against a TensorFlow already on this machine.
 *
 * `@tensorflow/tfjs-node`'s own install script downloads libtensorflow 2.9 from Google's storage,
 * which offline hosts cannot reach and which is older than the TensorFlow most hosts carry. This
 * instead:
 *   1. installs the package's npm tarball (and its JavaScript dependencies) from the npm registry
 *      into nativeDir() with install scripts off, so nothing outside npm is downloaded;
 *   2. takes libtensorflow from a local TensorFlow: a pip wheel (`tensorflow_cpu-*.whl`,
 *      `tensorflow-*.whl`), an installed pip `tensorflow/` package directory (both carry the C and
 *      eager C APIs in `libtensorflow_cc.so.2` + `libtensorflow_framework.so.2`, headers in
 *      `include/`), or an unpacked libtensorflow C library (`lib/libtensorflow.so.2`, `include/`);
 *   3. compiles the binding (binding/*.cc) with node-gyp against Node's installed headers
 *      (`--nodedir`; node-gyp would otherwise download them) into the path tfjs-node loads it from;
 *   4. loads it in a child process and runs one matMul, so a broken build fails here, not later.
 * Linux only (the wheel layout and rpath handling are Linux's).
 */
import { spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { type NativePackage, nativeDir } from "./native-dir.js";

export interface NativeBuildOptions {
  /** A TensorFlow wheel, an installed `tensorflow/` package dir, or a libtensorflow C library dir. */
  tensorflow?: string;
  /** Install prefix (default nativeDir()). */
  dir?: string;
  /** Build @tensorflow/tfjs-node-gpu (for a CUDA TensorFlow) instead of @tensorflow/tfjs-node. */
  gpu?: boolean;
  /** Directory holding include/node/node.h (default: the running Node's prefix). */
  nodedir?: string;
  log?: (line: string) => void;
}

export interface NativeBuildResult {
  dir: string;
  package: NativePackage;
  version: string;
  tensorflow: string;
  binding: string;
  /** What the child process printed: backend name and libtensorflow version. */
  check: string;
  seconds: number;
}

const require = createRequire(import.meta.url);

/** The tfjs version selfsup runs on: the native package must match it (one shared engine). */
function tfjsVersion(): string {
  const pkg = JSON.parse(readFileSync(require.resolve("@tensorflow/tfjs-core/package.json"), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

function run(cmd: string, args: string[], cwd: string, log: (l: string) => void): string {
  log(`$ ${cmd} ${args.join(" ")}`);
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`build-native: could not run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ""}\n${r.stderr ?? ""}`.trim().split("\n").slice(-25).join("\n");
    throw new Error(`build-native: \`${cmd} ${args.join(" ")}\` failed (exit ${r.status}):\n${tail}`);
  }
  return r.stdout ?? "";
}

function has(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).status === 0;
}

/** Finds a TensorFlow when none is named: SELFSUP_TENSORFLOW, else python3's installed package. */
export function findLocalTensorflow(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.SELFSUP_TENSORFLOW) return env.SELFSUP_TENSORFLOW;
  if (!has("python3")) return undefined;
  const r = spawnSync(
    "python3",
    [
      "-c",
      "import importlib.util as u; s = u.find_spec('tensorflow'); print(s.submodule_search_locations[0] if s else '')",
    ],
    { encoding: "utf8" },
  );
  const dir = (r.stdout ?? "").trim();
  return r.status === 0 && dir !== "" ? dir : undefined;
}

/** Wheel members needed: the two shared libraries and the C API headers (and what they include). */
const WHEEL_MEMBERS = [
  "tensorflow/libtensorflow_cc.so.2",
  "tensorflow/libtensorflow_framework.so.2",
  "tensorflow/include/tensorflow/c/*",
  "tensorflow/include/tensorflow/core/platform/*",
  "tensorflow/include/tsl/platform/*",
  "tensorflow/include/xla/tsl/*",
];

/** A wheel is a zip archive: refuse anything else by its first bytes, before unzip sees it. */
function checkZip(file: string): void {
  const fd = openSync(file, "r");
  const head = Buffer.alloc(4);
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  if (!head.equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))) {
    throw new Error(
      `build-native: --tensorflow ${file} is not a wheel: a .whl is a zip archive and this file does not start like one`,
    );
  }
}

function extractWheel(wheel: string, into: string, log: (l: string) => void): string {
  rmSync(into, { recursive: true, force: true });
  mkdirSync(into, { recursive: true });
  if (has("unzip")) {
    // unzip exits 11 when a pattern matches nothing (older wheels lack xla/tsl): fine.
    log(`$ unzip -q ${wheel} ${WHEEL_MEMBERS.join(" ")}`);
    const r = spawnSync("unzip", ["-q", "-o", wheel, ...WHEEL_MEMBERS, "-d", into], { encoding: "utf8" });
    if (r.status !== 0 && r.status !== 11)
      throw new Error(`build-native: unzip ${wheel} failed: ${r.stderr}`);
  } else if (has("python3")) {
    const script = `import fnmatch, sys, zipfile
z = zipfile.ZipFile(sys.argv[1]); pats = sys.argv[3:]
z.extractall(sys.argv[2], [n for n in z.namelist() if any(fnmatch.fnmatch(n, p) for p in pats)])`;
    run("python3", ["-c", script, wheel, into, ...WHEEL_MEMBERS], into, log);
  } else {
    throw new Error(
      "build-native: unpacking a wheel needs `unzip` or `python3` (node-gyp needs python3 anyway)",
    );
  }
  return path.join(into, "tensorflow");
}

interface TfLayout {
  /** Absolute path of the library holding the C + eager C API. */
  cLib: string;
  framework: string;
  include: string;
}

/** Recognises the pip package layout and the libtensorflow C library layout. */
function tfLayout(dir: string): TfLayout | undefined {
  const pip = {
    cLib: path.join(dir, "libtensorflow_cc.so.2"),
    framework: path.join(dir, "libtensorflow_framework.so.2"),
    include: path.join(dir, "include"),
  };
  if (existsSync(pip.cLib) && existsSync(pip.framework)) return pip;
  const c = {
    cLib: path.join(dir, "lib", "libtensorflow.so.2"),
    framework: path.join(dir, "lib", "libtensorflow_framework.so.2"),
    include: path.join(dir, "include"),
  };
  if (existsSync(c.cLib) && existsSync(c.framework)) return c;
  return undefined;
}

function noLayout(source: string): string {
  return (
    `build-native: ${source} holds neither libtensorflow_cc.so.2 + libtensorflow_framework.so.2 (a pip ` +
    "TensorFlow) nor lib/libtensorflow.so.2 + lib/libtensorflow_framework.so.2 (the C library)"
  );
}

function nodeGyp(): string[] {
  // npm bundles node-gyp; prefer it (always present with npm) over one on PATH.
  const npmDir = path.resolve(path.dirname(process.execPath), "..", "lib", "node_modules", "npm");
  const bundled = path.join(npmDir, "node_modules", "node-gyp", "bin", "node-gyp.js");
  if (existsSync(bundled)) return [process.execPath, bundled];
  if (has("node-gyp")) return ["node-gyp"];
  throw new Error("build-native: node-gyp not found (neither npm's bundled copy nor one on PATH)");
}

function defaultNodedir(): string {
  const prefix = path.resolve(path.dirname(process.execPath), "..");
  if (existsSync(path.join(prefix, "include", "node", "node_api.h"))) return prefix;
  const envDir = process.env.npm_config_nodedir;
  if (envDir && existsSync(path.join(envDir, "include", "node", "node_api.h"))) return envDir;
  throw new Error(
    `build-native: Node's C headers are not in ${prefix}/include/node (node-gyp would download them from ` +
      "nodejs.org, which selfsup does not do): install them (Debian: nodejs' headers package; the official " +
      "tarball has them) or pass --nodedir <dir with include/node>",
  );
}

/** Builds and installs the native binding; see the module comment. Takes ~20-40 s plus the npm install. */
export function buildNativeBackend(opts: NativeBuildOptions = {}): NativeBuildResult {
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  if (process.platform !== "linux") {
    throw new Error(`build-native: only Linux is supported (this is ${process.platform})`);
  }
  const source = opts.tensorflow ?? findLocalTensorflow();
  if (source === undefined) {
    throw new Error(
      "build-native: no TensorFlow found; pass --tensorflow <tensorflow*.whl | site-packages/tensorflow | libtensorflow dir> " +
        "(or set SELFSUP_TENSORFLOW)",
    );
  }
  if (!existsSync(source)) throw new Error(`build-native: --tensorflow ${source} does not exist`);
  const isWheel = statSync(source).isFile();
  if (isWheel && !source.endsWith(".whl")) {
    throw new Error(`build-native: --tensorflow ${source} is a file but not a .whl wheel`);
  }
  if (isWheel) checkZip(source);

  if (!isWheel && tfLayout(path.resolve(source as string)) === undefined) throw new Error(noLayout(source));
  const dir = path.resolve(opts.dir ?? nativeDir());
  const pkg: NativePackage = opts.gpu ? "@tensorflow/tfjs-node-gpu" : "@tensorflow/tfjs-node";
  const version = tfjsVersion();
  const nodedir = opts.nodedir ?? defaultNodedir();
  const gyp = nodeGyp();
  // Everything this call creates goes again if it fails (a directory we made, the staged wheel).
  const createdDir = !existsSync(dir);
  mkdirSync(dir, { recursive: true });
  let staged: string | undefined;
  try {
    return buildInto();
  } catch (err) {
    if (createdDir) rmSync(dir, { recursive: true, force: true });
    else if (staged !== undefined) rmSync(staged, { recursive: true, force: true });
    throw err;
  }

  function buildInto(): NativeBuildResult {
    // 1. TensorFlow first (a wheel is checked and unpacked), so that a wrong file fails in a second,
    //    not after a 300 MB npm install.
    let tfDir: string;
    if (isWheel) {
      staged = path.join(dir, ".wheel");
      tfDir = extractWheel(path.resolve(source as string), staged, log);
    } else {
      tfDir = path.resolve(source as string);
    }
    const layout = tfLayout(tfDir);
    if (layout === undefined) throw new Error(noLayout(source as string));
    if (!existsSync(path.join(layout.include, "tensorflow", "c", "eager", "c_api.h"))) {
      throw new Error(
        `build-native: ${layout.include}/tensorflow/c/eager/c_api.h is missing (headers needed)`,
      );
    }

    // 2. The package and its JS dependencies, from npm, no install scripts.
    const manifest = path.join(dir, "package.json");
    if (!existsSync(manifest)) {
      writeFileSync(
        manifest,
        `${JSON.stringify({ name: "selfsup-native", private: true, description: "built by selfsup backend build-native" }, null, 2)}\n`,
      );
    }
    run(
      "npm",
      ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error", `${pkg}@${version}`],
      dir,
      log,
    );
    const pkgDir = path.join(dir, "node_modules", pkg);

    // libtensorflow into the package's deps/, where binding.gyp looks for it.
    const deps = path.join(pkgDir, "deps");
    rmSync(deps, { recursive: true, force: true });
    mkdirSync(path.join(deps, "lib"), { recursive: true });
    const lib = path.join(deps, "lib");
    if (staged !== undefined) {
      // Our own extracted copy: move it in (no second 800 MB copy).
      renameSync(layout.cLib, path.join(lib, path.basename(layout.cLib)));
      renameSync(layout.framework, path.join(lib, "libtensorflow_framework.so.2"));
      renameSync(layout.include, path.join(deps, "include"));
    } else {
      // Someone else's installation: link to it, never copy or move it.
      symlinkSync(layout.cLib, path.join(lib, path.basename(layout.cLib)));
      symlinkSync(layout.framework, path.join(lib, "libtensorflow_framework.so.2"));
      symlinkSync(layout.include, path.join(deps, "include"));
    }
    // binding.gyp links -ltensorflow -ltensorflow_framework; the sonames recorded are the real ones.
    if (path.basename(layout.cLib) !== "libtensorflow.so.2") {
      symlinkSync(path.basename(layout.cLib), path.join(lib, "libtensorflow.so"));
    } else {
      symlinkSync("libtensorflow.so.2", path.join(lib, "libtensorflow.so"));
    }
    symlinkSync("libtensorflow_framework.so.2", path.join(lib, "libtensorflow_framework.so"));
    if (staged !== undefined) rmSync(staged, { recursive: true, force: true });

    // 3. Compile, for the highest N-API version both the package and this Node support.
    const meta = JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8")) as {
      binary: { napi_versions: number[]; module_name: string };
    };
    const nodeNapi = Number(process.versions.napi);
    const napi = Math.max(...meta.binary.napi_versions.filter((v) => v <= nodeNapi));
    const modulePath = path.join(pkgDir, "lib", `napi-v${napi}`);
    rmSync(path.join(pkgDir, "build"), { recursive: true, force: true });
    run(
      gyp[0] as string,
      [
        ...gyp.slice(1),
        "rebuild",
        `--nodedir=${nodedir}`,
        `--module_name=${meta.binary.module_name}`,
        `--module_path=${modulePath}`,
        `--napi_build_version=${napi}`,
        "--jobs=max",
      ],
      pkgDir,
      log,
    );
    const binding = path.join(modulePath, `${meta.binary.module_name}.node`);
    if (!existsSync(binding)) {
      throw new Error(
        `build-native: node-gyp succeeded but ${binding} is missing (found: ${readdirSync(modulePath)})`,
      );
    }

    // 4. Load it in a fresh process and compute something.
    const check = run(
      process.execPath,
      [
        "-e",
        `const tf = require(${JSON.stringify(pkg)});
const y = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[1], [1]])).dataSync();
if (y[0] !== 3 || y[1] !== 7) throw new Error("matMul gave " + y);
console.log("backend " + tf.getBackend() + ", libtensorflow " + tf.backend().binding.TF_Version);`,
      ],
      dir,
      log,
    ).trim();
    writeFileSync(
      path.join(dir, "selfsup-native.json"),
      `${JSON.stringify({ package: pkg, version, tensorflow: path.resolve(source as string), napi, builtAt: new Date().toISOString(), check }, null, 2)}\n`,
    );
    return {
      dir,
      package: pkg,
      version,
      tensorflow: path.resolve(source as string),
      binding,
      check,
      seconds: (performance.now() - t0) / 1000,
    };
  }
}
