"use client";
/**
 * Queues a run through the runner (submitRun mutation): a config as JSON, prefilled for a method.
 * Shown to team-token users only; the runner validates the config and names any bad field.
 */
import Link from "next/link";
import { useState } from "react";
import { gql } from "./gql";

const SUBMIT = "mutation Submit($input: SubmitRunInput!) { submitRun(input: $input) { id run { name } } }";

export function SubmitRun({ method, datasets }: { method: string; datasets: string[] }) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState(() =>
    JSON.stringify(
      { method: { name: method }, dataset: { name: datasets[0] ?? "mnist" }, training: { steps: 500 } },
      null,
      2,
    ),
  );
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<{ id: string; name: string | null }>();
  if (!open) {
    return (
      <button type="button" onClick={() => setOpen(true)}>
        Queue a run…
      </button>
    );
  }
  return (
    <form
      style={{ display: "grid", gap: 6, marginTop: 8 }}
      onSubmit={async (e) => {
        e.preventDefault();
        let config: unknown;
        try {
          config = JSON.parse(text);
        } catch (err) {
          setError(`not JSON: ${(err as Error).message}`);
          return;
        }
        setBusy(true);
        try {
          const r = await gql<{ submitRun: { id: string; run: { name: string } | null } }>(SUBMIT, {
            input: { config },
          });
          setDone({ id: r.submitRun.id, name: r.submitRun.run?.name ?? null });
          setError(undefined);
        } catch (err) {
          setError((err as Error).message);
        } finally {
          setBusy(false);
        }
      }}
    >
      <label htmlFor={`config-${method}`} className="muted">
        Run config (as for <span className="mono">selfsup train</span>)
      </label>
      <textarea
        id={`config-${method}`}
        className="mono"
        rows={8}
        value={text}
        onChange={(e) => setText(e.target.value)}
        spellCheck={false}
      />
      <div className="row">
        <button type="submit" className="primary" disabled={busy}>
          Queue
        </button>
        <button type="button" onClick={() => setOpen(false)}>
          Close
        </button>
        {done && (
          <span>
            queued <Link href={`/runs/${encodeURIComponent(done.id)}`}>{done.name ?? done.id}</Link>
          </span>
        )}
      </div>
      {error && (
        <div className="error-box" role="alert">
          {error}
        </div>
      )}
    </form>
  );
}
