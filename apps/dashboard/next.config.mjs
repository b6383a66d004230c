import path from "node:path";
import { fileURLToPath } from "node:url";
import { SECURITY_HEADERS } from "./security-headers.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const workspaceRoot = path.resolve(here, "../..");

/** @type {import('next').NextConfig} */
const nextConfig = {
  // Loaded with Node's own import at run time, not bundled: the store (PGlite's wasm, pg), the
  // plugin registry (TensorFlow.js, dynamic plugin imports) and the runner's client.
  serverExternalPackages: [
    "@selfsup/store",
    "@selfsup/core",
    "@selfsup/runner",
    "@electric-sql/pglite",
    "pg",
  ],
  turbopack: { root: workspaceRoot },
  outputFileTracingRoot: workspaceRoot,
  poweredByHeader: false,
  reactStrictMode: true,
  devIndicators: false,
  async headers() {
    return [
      {
        // Artifacts set their own, stricter policy (src: app/api/artifacts).
        source: "/((?!api/artifacts/).*)",
        headers: SECURITY_HEADERS,
      },
    ];
  },
};

export default nextConfig;
