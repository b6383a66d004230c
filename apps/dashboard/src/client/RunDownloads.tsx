"use client";
/**
 * The run's encoder for download: ONNX, safetensors, the TF.js graph model (its model.json URL
 * loads as is with `tf.loadGraphModel`) and the test split's embeddings as Parquet. Files come from
 * /api/runs/<id>/encoder/<file>, made from the latest checkpoint on first request by the same
 * exporter as `selfsup export` / `selfsup embed` (docs/encoder-out.md), so the first click on each
 * can take a while.
 */
import { useEffect, useState } from "react";

const FILES = [
  { file: "encoder.onnx", label: "ONNX", hint: "onnxruntime, opset 17" },
  { file: "encoder.safetensors", label: "safetensors", hint: "named weights, PyTorch layout" },
  { file: "model.json", label: "TF.js model.json", hint: "tf.loadGraphModel(this URL)" },
  { file: "test-embeddings.parquet", label: "test embeddings (Parquet)", hint: "selfsup embed --split test" },
] as const;

export function RunDownloads({ runId, checkpoints }: { runId: string; checkpoints: number }) {
  const [origin, setOrigin] = useState(""); // after hydration, so server and client render alike
  useEffect(() => setOrigin(window.location.origin), []);
  const base = `/api/runs/${encodeURIComponent(runId)}/encoder`;
  return (
    <section aria-label="Encoder downloads">
      <h2>Encoder</h2>
      {checkpoints === 0 ? (
        <p className="muted">
          No checkpoint yet: the encoder can be downloaded once the run has written one.
        </p>
      ) : (
        <>
          <ul className="downloads">
            {FILES.map((f) => (
              <li key={f.file}>
                <a href={`${base}/${f.file}`} download={f.file === "model.json" ? undefined : f.file}>
                  {f.label}
                </a>{" "}
                <span className="muted">{f.hint}</span>
              </li>
            ))}
          </ul>
          <p className="muted">
            From the latest checkpoint, made on first download. In a page:{" "}
            <code className="mono">
              tf.loadGraphModel("{origin}
              {base}/model.json")
            </code>
          </p>
        </>
      )}
    </section>
  );
}
