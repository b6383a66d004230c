"use client";
/**
 * The methods catalogue: every installed training method (ours and third-party plugins) with its
 * paper, inputs and options (from its zod schema as JSON Schema), then the other contributions.
 */
import { useState } from "react";
import { fmtValue } from "./format";
import { useGql } from "./gql";
import { SubmitRun } from "./SubmitRun";

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
}

interface MethodInfo {
  name: string;
  family: string;
  description: string;
  plugin: string;
  paper: { title: string; url: string } | null;
  inputs: string[];
  optionsSchema: JsonSchema | null;
}

interface Catalogue {
  viewer: { canMutate: boolean };
  facets: { datasets: Array<{ value: string }> };
  methods: MethodInfo[];
  plugins: {
    plugins: Array<{
      name: string;
      version: string | null;
      contributions: Array<{
        kind: string;
        name: string;
        description: string;
        optionsSchema: JsonSchema | null;
      }>;
    }>;
    failures: Array<{ packageName: string; error: string }>;
  };
}

const QUERY = `
query Catalogue {
  viewer { canMutate }
  facets { datasets { value } }
  methods { name family description plugin paper { title url } inputs optionsSchema }
  plugins { plugins { name version contributions { kind name description optionsSchema } } failures { packageName error } }
}`;

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (s.anyOf) return s.anyOf.map(typeOf).join(" | ");
  const t = Array.isArray(s.type) ? s.type.join(" | ") : (s.type ?? "any");
  if (t === "array" && s.items) return `${typeOf(s.items)}[]`;
  return t;
}

function range(s: JsonSchema): string {
  const lo = s.minimum ?? s.exclusiveMinimum;
  const hi = s.maximum ?? s.exclusiveMaximum;
  if (lo === undefined && hi === undefined) return "";
  const l = lo === undefined ? "" : `${s.exclusiveMinimum !== undefined ? ">" : "≥"} ${lo}`;
  const h = hi === undefined ? "" : `${s.exclusiveMaximum !== undefined ? "<" : "≤"} ${hi}`;
  return [l, h].filter(Boolean).join(", ");
}

export function OptionsTable({ schema }: { schema: JsonSchema | null }) {
  const props = schema?.properties ? Object.entries(schema.properties) : [];
  if (props.length === 0) return <p className="muted">No options.</p>;
  return (
    <table className="data">
      <thead>
        <tr>
          <th>option</th>
          <th>type</th>
          <th>default</th>
          <th>notes</th>
        </tr>
      </thead>
      <tbody>
        {props.map(([name, s]) => (
          <tr key={name}>
            <td className="mono">{name}</td>
            <td className="mono">{typeOf(s)}</td>
            <td className="mono">{s.default === undefined ? "" : fmtValue(s.default)}</td>
            <td>{[s.description, range(s)].filter(Boolean).join(" · ")}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function MethodsView() {
  const q = useGql<Catalogue>(QUERY, undefined);
  const [filter, setFilter] = useState("");
  if (q.error) {
    return (
      <div className="error-box" role="alert">
        {q.error.message}
      </div>
    );
  }
  if (!q.data) return <p className="muted">Loading the plugin registry (imports every installed plugin)…</p>;
  const { methods, plugins, viewer } = q.data;
  const datasets = q.data.facets.datasets.map((d) => d.value);
  const f = filter.toLowerCase();
  const shown = methods.filter(
    (m) => !f || `${m.name} ${m.family} ${m.description} ${m.plugin}`.toLowerCase().includes(f),
  );
  const families = [...new Set(shown.map((m) => m.family))].sort();
  return (
    <section aria-label="Methods">
      <div className="toolbar">
        <h1 style={{ margin: 0 }}>Methods</h1>
        <span className="muted">
          {methods.length} methods from {plugins.plugins.length} plugins
        </span>
        <span className="grow" />
        <input
          type="search"
          placeholder="Filter methods…"
          aria-label="Filter methods"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
        />
      </div>
      {plugins.failures.length > 0 && (
        <div className="error-box" role="alert">
          {plugins.failures.map((p) => `${p.packageName}: ${p.error}`).join("\n")}
        </div>
      )}
      {methods.length === 0 && (
        <p className="notice">
          No training methods are installed where the dashboard looks (its directory, SELFSUP_PLUGIN_ROOT, and
          @selfsup/runner).
        </p>
      )}
      {families.map((fam) => (
        <section key={fam}>
          <h2 style={{ textTransform: "capitalize" }}>{fam}</h2>
          <div className="cards">
            {shown
              .filter((m) => m.family === fam)
              .map((m) => (
                <article className="card" key={m.name} data-testid="method-card">
                  <h3>{m.name}</h3>
                  <div className="muted" style={{ fontSize: 12 }}>
                    {m.plugin} · inputs: {m.inputs.join(", ")}
                  </div>
                  <p>{m.description}</p>
                  {m.paper && (
                    <p>
                      <a href={m.paper.url} rel="noreferrer noopener" target="_blank">
                        {m.paper.title}
                      </a>
                    </p>
                  )}
                  <details>
                    <summary>Options</summary>
                    <OptionsTable schema={m.optionsSchema} />
                  </details>
                  {viewer.canMutate && <SubmitRun method={m.name} datasets={datasets} />}
                </article>
              ))}
          </div>
        </section>
      ))}
      <h2>Plugins</h2>
      {plugins.plugins.map((p) => (
        <details key={p.name} style={{ marginBottom: 6 }}>
          <summary>
            <span className="mono">{p.name}</span>{" "}
            {p.version ? <span className="muted">{p.version}</span> : null} · {p.contributions.length}{" "}
            contributions
          </summary>
          <table className="data" style={{ margin: "6px 0 12px" }}>
            <thead>
              <tr>
                <th>kind</th>
                <th>name</th>
                <th>description</th>
              </tr>
            </thead>
            <tbody>
              {p.contributions.map((c) => (
                <tr key={`${c.kind}:${c.name}`}>
                  <td>{c.kind}</td>
                  <td className="mono">{c.name}</td>
                  <td>{c.description}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      ))}
    </section>
  );
}
