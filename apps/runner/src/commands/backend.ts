/**
 * `selfsup backend build-native`: builds the native TensorFlow backend (see core's native-build.ts).
 * `selfsup backend add webgpu`: installs the WebGPU backend's packages (see core's webgpu.ts).
 */
import {
  buildNativeBackend,
  formatBackendReport,
  initBackend,
  installWebGpu,
  type NativeBuildOptions,
} from "@selfsup/core";
import { CliError, EXIT } from "../exit-codes.js";

export async function buildNativeCommand(opts: Omit<NativeBuildOptions, "log">): Promise<number> {
  try {
    const r = buildNativeBackend({ ...opts, log: (line) => process.stderr.write(`${line}\n`) });
    process.stdout.write(
      `built ${r.package}@${r.version} against ${r.tensorflow} in ${r.seconds.toFixed(0)} s\n` +
        `  binding: ${r.binding}\n  check: ${r.check}\n` +
        `  selfsup loads it from ${r.dir}` +
        (opts.dir ? " (set SELFSUP_NATIVE_DIR to this directory)" : "") +
        "; `selfsup list` should now say `chosen tensorflow`\n",
    );
    return EXIT.ok;
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.failure);
  }
}

export const ADDABLE_BACKENDS = ["webgpu"] as const;

export async function addBackendCommand(name: string, opts: { dir?: string }): Promise<number> {
  if (!(ADDABLE_BACKENDS as readonly string[]).includes(name)) {
    throw new CliError(
      `backend add: "${name}" cannot be added; use one of ${ADDABLE_BACKENDS.join(", ")} (the native one: selfsup backend build-native)`,
      EXIT.usage,
    );
  }
  let dir: string;
  try {
    const r = installWebGpu({ ...opts, log: (line) => process.stderr.write(`${line}\n`) });
    dir = r.dir;
    process.stdout.write(`installed ${r.packages.join(", ")} into ${r.dir} in ${r.seconds.toFixed(0)} s\n`);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.failure);
  }
  // Say at once whether an adapter can be had here (by name: a software one counts).
  const before = process.env.SELFSUP_WEBGPU_DIR;
  process.env.SELFSUP_WEBGPU_DIR = dir;
  try {
    const report = await initBackend("webgpu");
    process.stdout.write(`${formatBackendReport(report)}\n`);
    const hint = opts.dir ? " (set SELFSUP_WEBGPU_DIR to this directory)" : "";
    process.stdout.write(
      report.adapter?.software
        ? `software adapter: --backend webgpu uses it; auto keeps to the CPU backends${hint}\n`
        : `--backend auto now picks webgpu${hint}\n`,
    );
    return EXIT.ok;
  } catch (err) {
    process.stdout.write(
      `installed, but no WebGPU adapter can be had here:\n${(err as Error).message}\n` +
        "(Linux without a GPU driver: Debian's libegl1 libgles2 libegl-mesa0 libgl1-mesa-dri give Mesa's llvmpipe)\n",
    );
    return EXIT.failure;
  } finally {
    if (before === undefined) delete process.env.SELFSUP_WEBGPU_DIR;
    else process.env.SELFSUP_WEBGPU_DIR = before;
  }
}
