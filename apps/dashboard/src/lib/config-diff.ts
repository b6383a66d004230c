/**
 * Config comparison: flatten each config to dotted paths (`optimizer.lr`, `augment.0.name`), then
 * keep the paths whose values are not all equal. Arrays of scalars compare as one value (a list
 * of crop sizes reads better whole); arrays of objects are indexed.
 */
export type Flat = Map<string, unknown>;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function flattenConfig(value: unknown, prefix = "", out: Flat = new Map()): Flat {
  if (isPlainObject(value)) {
    const keys = Object.keys(value).sort();
    if (keys.length === 0 && prefix) out.set(prefix, {});
    for (const k of keys) flattenConfig(value[k], prefix ? `${prefix}.${k}` : k, out);
  } else if (Array.isArray(value) && value.some((v) => typeof v === "object" && v !== null)) {
    if (value.length === 0 && prefix) out.set(prefix, []);
    for (let i = 0; i < value.length; i++)
      flattenConfig(value[i], prefix ? `${prefix}.${i}` : String(i), out);
  } else if (prefix) {
    out.set(prefix, value);
  }
  return out;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export interface DiffEntry {
  path: string;
  /** One per config; undefined where a config lacks the path. */
  values: unknown[];
}

/** Entries whose values differ across `configs` (a missing entry differs from any value). */
export function diffConfigs(configs: unknown[], options: { all?: boolean } = {}): DiffEntry[] {
  const flats = configs.map((c) => flattenConfig(c));
  const paths = new Set<string>();
  for (const f of flats) for (const p of f.keys()) paths.add(p);
  const out: DiffEntry[] = [];
  for (const path of [...paths].sort()) {
    const values = flats.map((f) => (f.has(path) ? f.get(path) : undefined));
    const present = flats.map((f) => f.has(path));
    const differs = present.some((p) => !p) || values.some((v) => !same(v, values[0]));
    if (differs || options.all) out.push({ path, values });
  }
  return out;
}
