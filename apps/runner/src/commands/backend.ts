/** `selfsup backend build-native`: builds the native TensorFlow backend (see core's native-build.ts). */
import { buildNativeBackend, type NativeBuildOptions } from "@selfsup/core";
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
