// A static server for the example: public/, the TF.js bundles from node_modules under /vendor/,
// and the exported model folder under /model/ (default ./model, from `pnpm prepare-model`).
// Usage: node scripts/serve.mjs [--model dir] [--port 8080]
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const dist = (pkg) => path.join(path.dirname(require.resolve(`${pkg}/package.json`)), "dist");
const VENDOR = {
  "tf-core.min.js": path.join(dist("@tensorflow/tfjs-core"), "tf-core.min.js"),
  "tf-backend-cpu.min.js": path.join(dist("@tensorflow/tfjs-backend-cpu"), "tf-backend-cpu.min.js"),
  "tf-converter.min.js": path.join(dist("@tensorflow/tfjs-converter"), "tf-converter.min.js"),
};
const TYPES = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".json": "application/json",
  ".bin": "application/octet-stream",
  ".jsonl": "application/x-ndjson",
};

/** Starts the server; resolves with its URL and a close function. */
export function startServer({
  modelDir = path.join(here, "..", "model"),
  port = 0,
  host = "127.0.0.1",
} = {}) {
  const publicDir = path.join(here, "..", "public");
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const rel = decodeURIComponent(url.pathname).replace(/^\/+/, "") || "index.html";
    let file;
    if (rel.startsWith("vendor/")) file = VENDOR[rel.slice(7)];
    else if (rel.startsWith("model/")) file = path.join(modelDir, rel.slice(6));
    else file = path.join(publicDir, rel);
    const inside = (root) => file && path.resolve(file).startsWith(path.resolve(root) + path.sep);
    const allowed = rel.startsWith("vendor/")
      ? Boolean(file)
      : inside(rel.startsWith("model/") ? modelDir : publicDir);
    if (!allowed || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(port, host, () => {
      const { port: p } = server.address();
      resolve({ url: `http://${host}:${p}/`, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const { url } = await startServer({
    ...(arg("--model") ? { modelDir: path.resolve(arg("--model")) } : {}),
    port: Number(arg("--port") ?? 8080),
  });
  console.log(`browser-embed: ${url}`);
}
