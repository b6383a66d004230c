/**
 * `selfsup backend build-native` refuses what it cannot build from before installing anything.
 * (The build itself runs in .ci/run's native section, where a TensorFlow wheel is on the machine.)
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { buildNativeBackend } from "../../src/backend/native-build.js";
import { nativeDir } from "../../src/backend/native-dir.js";

describe.skipIf(process.platform !== "linux")(
  "build-native input checks (Linux only, like the build)",
  () => {
    const dir = mkdtempSync(path.join(tmpdir(), "selfsup-native-"));

    it("names a missing path, a file that is not a wheel, and a directory without libtensorflow", () => {
      expect(() => buildNativeBackend({ tensorflow: path.join(dir, "nope.whl"), dir })).toThrow(
        /--tensorflow .*nope\.whl does not exist/,
      );
      const notWheel = path.join(dir, "tensorflow.tar.gz");
      writeFileSync(notWheel, "x");
      expect(() => buildNativeBackend({ tensorflow: notWheel, dir })).toThrow(
        /is a file but not a \.whl wheel/,
      );
      expect(() => buildNativeBackend({ tensorflow: dir, dir })).toThrow(
        /holds neither libtensorflow_cc\.so\.2 \+ libtensorflow_framework\.so\.2/,
      );
    });

    it("installs into SELFSUP_NATIVE_DIR, else $SELFSUP_HOME/native", () => {
      expect(nativeDir({ SELFSUP_NATIVE_DIR: "/x/native" })).toBe("/x/native");
      expect(nativeDir({ SELFSUP_HOME: "/h" })).toBe("/h/native");
      expect(nativeDir({})).toBe(path.resolve(".selfsup", "native"));
    });
  },
);
