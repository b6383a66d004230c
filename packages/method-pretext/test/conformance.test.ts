import { describeMethodConformance } from "@selfsup/core/testing";
import { pretextMethods } from "../src/index.js";

// core's conformance kit (options, finite loss, loss falls, no leaks, checkpoint round trip,
// determinism) on its tiny MLP encoder and synthetic 16x16 images (gray, or RGB for methods that
// need colour), with each spec's tinyOptions: a few seconds per method.
const RGB_ONLY = new Set(["colorization"]);

for (const spec of pretextMethods) {
  describeMethodConformance(spec, {
    input: { kind: "image", height: 16, width: 16, channels: RGB_ONLY.has(spec.name) ? 3 : 1 },
    backend: "wasm",
  });
}
