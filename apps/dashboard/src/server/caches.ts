/**
 * Small process-wide caches, one per store instance:
 * - series of runs that have ended (their points no longer change) keyed by run, finish time and
 *   the request; a resumed run changes status and finish time, so it never hits a stale entry;
 * - facets (distinct methods, datasets, ...) for 30 s, served stale while refreshed: they scan
 *   the runs table.
 */
import type { FacetsResult, RunStore, Series } from "@selfsup/store";

class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly capacity: number) {}
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  delete(key: string): void {
    this.map.delete(key);
  }
  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string);
  }
}

interface StoreCaches {
  series: Lru<Promise<Series[]>>;
  facets?: { at: number; value: Promise<FacetsResult> };
  pendingFacets?: Promise<FacetsResult>;
}

const perStore = new WeakMap<RunStore, StoreCaches>();

function caches(store: RunStore): StoreCaches {
  let c = perStore.get(store);
  if (!c) {
    c = { series: new Lru(256) };
    perStore.set(store, c);
  }
  return c;
}

/** Set SELFSUP_SERIES_CACHE=0 to measure the store itself. */
const seriesCacheOn = () => process.env.SELFSUP_SERIES_CACHE !== "0";

export function cachedSeries(
  store: RunStore,
  run: { id: string; status: string; finishedAt: Date | null },
  keys: string[],
  options: Parameters<RunStore["readSeries"]>[2],
): Promise<Series[]> {
  const ended = run.status !== "running" && run.status !== "queued" && run.finishedAt !== null;
  if (!ended || !seriesCacheOn()) return store.readSeries(run.id, keys, options);
  const key = JSON.stringify([run.id, run.finishedAt?.getTime(), run.status, keys, options]);
  const c = caches(store).series;
  let hit = c.get(key);
  if (!hit) {
    hit = store.readSeries(run.id, keys, options);
    c.set(key, hit);
    hit.catch(() => c.delete(key));
  }
  return hit;
}

const FACETS_TTL_MS = 30_000;

/**
 * Facets, recomputed at most every 30 s. An expired value is still served while the new one is
 * computed (stale-while-revalidate), so no page waits on a scan of the runs table.
 */
export function cachedFacets(store: RunStore): Promise<FacetsResult> {
  const c = caches(store);
  const refresh = () => {
    const value = store.facets();
    c.pendingFacets = value;
    value
      .then(
        () => {
          c.facets = { at: Date.now(), value };
        },
        () => {},
      )
      .finally(() => {
        if (c.pendingFacets === value) c.pendingFacets = undefined;
      });
    return value;
  };
  if (!c.facets) return c.pendingFacets ?? refresh();
  if (Date.now() - c.facets.at > FACETS_TTL_MS && !c.pendingFacets) void refresh();
  return c.facets.value;
}
