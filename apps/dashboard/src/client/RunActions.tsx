"use client";

/** The run page's mutations: cancel a live run, add or remove tags, edit the note (GraphQL). */
import { useEffect, useState } from "react";
import type { RunDetail } from "../lib/api-types";
import { gql } from "./gql";

export function CancelButton({ id, onDone }: { id: string; onDone: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  return (
    <>
      <button
        type="button"
        className="danger"
        disabled={busy}
        onClick={async () => {
          if (!window.confirm("Cancel this run? The runner stops it at its next heartbeat.")) return;
          setBusy(true);
          try {
            await gql("mutation Cancel($id: ID!) { cancelRun(id: $id) { id status } }", { id });
            setError(undefined);
            onDone();
          } catch (e) {
            setError((e as Error).message);
          } finally {
            setBusy(false);
          }
        }}
      >
        Cancel run
      </button>
      {error && (
        <span className="error-box" role="alert" style={{ flexBasis: "100%" }}>
          {error}
        </span>
      )}
    </>
  );
}

export function TagsAndNote({
  run,
  canMutate,
  onChange,
}: {
  run: RunDetail;
  canMutate: boolean;
  onChange: () => void;
}) {
  const [tag, setTag] = useState("");
  const [note, setNote] = useState(run.notes ?? "");
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState(false);
  useEffect(() => setNote(run.notes ?? ""), [run.notes]);
  const mutate = async (query: string, variables: Record<string, unknown>) => {
    try {
      await gql(query, variables);
      setError(undefined);
      onChange();
      return true;
    } catch (e) {
      setError((e as Error).message);
      return false;
    }
  };
  const TAG =
    "mutation Tag($id: ID!, $add: [String!], $remove: [String!]) { tagRun(id: $id, add: $add, remove: $remove) { id tags } }";
  return (
    <section aria-label="Tags and note" style={{ margin: "8px 0 4px" }}>
      <div className="row">
        <strong>Tags</strong>
        {run.tags.length === 0 && <span className="muted">none</span>}
        {run.tags.map((t) => (
          <span className="chip" key={t}>
            {t}
            {canMutate && (
              <button
                type="button"
                aria-label={`Remove tag ${t}`}
                onClick={() => mutate(TAG, { id: run.id, remove: [t] })}
              >
                ×
              </button>
            )}
          </span>
        ))}
        {canMutate && (
          <form
            className="row"
            onSubmit={async (e) => {
              e.preventDefault();
              if (tag.trim() && (await mutate(TAG, { id: run.id, add: [tag.trim()] }))) setTag("");
            }}
          >
            <input
              type="text"
              value={tag}
              onChange={(e) => setTag(e.target.value)}
              placeholder="add tag"
              aria-label="New tag"
              size={12}
            />
            <button type="submit">Add</button>
          </form>
        )}
      </div>
      <div style={{ marginTop: 8 }}>
        <strong>Note</strong>
        {canMutate ? (
          <form
            onSubmit={async (e) => {
              e.preventDefault();
              if (
                await mutate(
                  "mutation Note($id: ID!, $note: String) { setNote(id: $id, note: $note) { id notes } }",
                  { id: run.id, note: note || null },
                )
              ) {
                setSaved(true);
                setTimeout(() => setSaved(false), 1500);
              }
            }}
            style={{ display: "grid", gap: 6, maxWidth: 720, marginTop: 4 }}
          >
            <textarea
              value={note}
              onChange={(e) => setNote(e.target.value)}
              rows={2}
              aria-label="Note"
              placeholder="What was this run for?"
            />
            <div className="row">
              <button type="submit">Save note</button>
              {saved && <span className="muted">saved</span>}
            </div>
          </form>
        ) : (
          <p style={{ margin: "4px 0", whiteSpace: "pre-wrap" }}>
            {run.notes || <span className="muted">—</span>}
          </p>
        )}
      </div>
      {error && (
        <div className="error-box" role="alert">
          {error}
        </div>
      )}
    </section>
  );
}
