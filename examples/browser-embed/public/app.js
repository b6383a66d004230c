// The page: loads the TF.js graph model that `selfsup export --format tfjs` wrote (model/), the
// shipped embeddings (model/neighbours.jsonl, from `selfsup embed`), embeds dropped images with
// the encoder and lists their nearest neighbours by cosine similarity. `window.selfsup` exposes
// the same functions to scripts (and to the Chromium test).
/* global tf */

const statusEl = document.getElementById("status");

/** The encoder and its input spec (from the model's metadata). */
async function loadModel(base) {
  const model = await tf.loadGraphModel(`${base}/model.json`);
  const res = await fetch(`${base}/model.json`);
  const meta = (await res.json()).userDefinedMetadata;
  return { model, meta };
}

/** The shipped embeddings, L2-normalised once, as one matrix. */
async function loadBank(base, dim) {
  const res = await fetch(`${base}/neighbours.jsonl`);
  if (!res.ok) return { rows: [], matrix: new Float32Array(0), dim };
  const rows = (await res.text())
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l));
  const matrix = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => {
    const n = Math.hypot(...r.embedding) || 1;
    r.embedding.forEach((v, j) => {
      matrix[i * dim + j] = v / n;
    });
  });
  return { rows, matrix, dim };
}

/** Embeddings of n images given as NHWC floats in [0, 1]: an array of n Float32Arrays. */
function embedPixels(state, pixels, n) {
  const { height, width, channels } = state.meta.input;
  const x = tf.tensor4d(pixels, [n, height, width, channels], "float32");
  const z = state.model.execute(x, "embedding");
  const flat = z.dataSync();
  x.dispose();
  z.dispose();
  const d = flat.length / n;
  return Array.from({ length: n }, (_, i) => flat.slice(i * d, (i + 1) * d));
}

/** The k shipped rows most similar (cosine) to `vector`. */
function neighbours(state, vector, k = 5) {
  const { rows, matrix, dim } = state.bank;
  const norm = Math.hypot(...vector) || 1;
  const scored = rows.map((r, i) => {
    let s = 0;
    for (let j = 0; j < dim; j++) s += matrix[i * dim + j] * vector[j];
    return { index: r.index, label: r.label, path: r.path, score: s / norm };
  });
  return scored.sort((a, b) => b.score - a.score).slice(0, k);
}

/**
 * An image file as the encoder's input: centre-cropped to the model's aspect ratio and resized
 * (as the image-folder dataset does), RGB or BT.601 luma, scaled to [0, 1].
 */
async function filePixels(state, file) {
  const { height, width, channels } = state.meta.input;
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(bitmap.width / width, bitmap.height / height);
  const [sw, sh] = [width * scale, height * scale];
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(bitmap, (bitmap.width - sw) / 2, (bitmap.height - sh) / 2, sw, sh, 0, 0, width, height);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const out = new Float32Array(height * width * channels);
  for (let p = 0; p < height * width; p++) {
    const [r, g, b] = [rgba[p * 4] / 255, rgba[p * 4 + 1] / 255, rgba[p * 4 + 2] / 255];
    if (channels === 1) out[p] = 0.299 * r + 0.587 * g + 0.114 * b;
    else out.set([r, g, b], p * 3);
  }
  return { pixels: out, canvas };
}

function show(canvas, name, hits) {
  const div = document.createElement("div");
  div.className = "result";
  const rows = hits
    .map(
      (h) =>
        `<tr><td>${h.path ?? `#${h.index}`}</td><td>${h.label ?? ""}</td><td>${h.score.toFixed(3)}</td></tr>`,
    )
    .join("");
  const table = document.createElement("div");
  table.innerHTML = `<strong></strong><table><tr><th>neighbour</th><th>label</th><th>cosine</th></tr>${rows}</table>`;
  table.querySelector("strong").textContent = name;
  div.append(canvas, table);
  document.getElementById("results").prepend(div);
}

async function main() {
  await tf.setBackend("cpu");
  const base = new URLSearchParams(location.search).get("model") ?? "model";
  const { model, meta } = await loadModel(base);
  const bank = await loadBank(base, meta.output.dim);
  const state = { model, meta, bank };
  const api = {
    meta,
    size: bank.rows.length,
    embedPixels: (pixels, n) => embedPixels(state, pixels, n).map((v) => Array.from(v)),
    neighbours: (vector, k) => neighbours(state, vector, k),
  };
  window.selfsup = api;
  statusEl.textContent = `encoder ready: ${meta.input.height}x${meta.input.width}x${meta.input.channels} -> ${meta.output.dim} floats; ${bank.rows.length} shipped embeddings (run ${meta.source?.run ?? "?"})`;
  const handle = async (files) => {
    for (const file of files) {
      const { pixels, canvas } = await filePixels(state, file);
      const [vector] = embedPixels(state, pixels, 1);
      show(canvas, file.name, neighbours(state, vector, 5));
    }
  };
  const drop = document.getElementById("drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    void handle([...e.dataTransfer.files]);
  });
  document.getElementById("pick").addEventListener("change", (e) => void handle([...e.target.files]));
  document.body.dataset.ready = "true";
}

main().catch((err) => {
  statusEl.textContent = `failed: ${err.message}`;
  document.body.dataset.error = err.message;
});
