"use client";
/**
 * A run's series, kept current while it trains without re-reading everything: a full read
 * (downsampled to 1,000 buckets with min/max) on open, then every 3 s only the points after the
 * last x already shown (an index range in the store, cheap however long the run), appended at
 * full resolution. Every 10th tick, when the tail was itself downsampled, or when a series has
 * grown past 2,000 points, it reads everything again.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import type { Series } from "../lib/api-types";
import { gql } from "./gql";

const QUERY = `
query RunSeries($id: ID!, $keys: [String!]!, $maxPoints: Int!, $xAxis: XAxis!, $range: XRange) {
  run(id: $id) {
    id
    series(keys: $keys, maxPoints: $maxPoints, xAxis: $xAxis, range: $range) {
      key total downsampled points { x y min max count }
    }
  }
}`;

const FULL_POINTS = 1000;
const TAIL_POINTS = 500;
const REFRESH_EVERY = 10;
const POLL_MS = 3000;

type Data = { run: { series: Series[] } | null };

export function useLiveSeries(id: string, keys: string[], xAxis: string, live: boolean) {
  const [series, setSeries] = useState<Series[]>();
  const [error, setError] = useState<Error>();
  const current = useRef<Series[] | undefined>(undefined);
  const busy = useRef(false);
  const tick = useRef(0);
  const keysKey = JSON.stringify(keys);

  const set = useCallback((s: Series[]) => {
    current.current = s;
    setSeries(s);
  }, []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: keysKey stands for keys by value
  const full = useCallback(async () => {
    if (keys.length === 0) return;
    busy.current = true;
    try {
      const d = await gql<Data>(QUERY, { id, keys, maxPoints: FULL_POINTS, xAxis, range: null });
      set(d.run?.series ?? []);
      setError(undefined);
    } catch (e) {
      setError(e as Error);
    } finally {
      busy.current = false;
    }
  }, [id, keysKey, xAxis, set]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: keysKey stands for keys by value
  const tail = useCallback(async () => {
    const cur = current.current;
    const lasts = new Map(
      (cur ?? []).map((s) => [s.key, s.points.length ? s.points[s.points.length - 1].x : null]),
    );
    const known = [...lasts.values()].filter((x): x is number => x !== null);
    if (!cur || known.length === 0) return full();
    busy.current = true;
    try {
      const from = Math.min(...known);
      const d = await gql<Data>(QUERY, { id, keys, maxPoints: TAIL_POINTS, xAxis, range: { from } });
      const fresh = d.run?.series ?? [];
      if (fresh.some((s) => s.downsampled)) {
        busy.current = false;
        return full();
      }
      const next = keys.map((key) => {
        const old = cur.find((s) => s.key === key) ?? { key, total: 0, downsampled: false, points: [] };
        const last = lasts.get(key) ?? null;
        const add = (fresh.find((s) => s.key === key)?.points ?? []).filter(
          (p) => last === null || p.x > last,
        );
        return add.length ? { ...old, total: old.total + add.length, points: [...old.points, ...add] } : old;
      });
      if (next.some((s) => s.points.length > 2 * FULL_POINTS)) {
        busy.current = false;
        return full();
      }
      if (next.some((s, i) => s !== cur[i])) set(next);
      setError(undefined);
    } catch (e) {
      setError(e as Error);
    } finally {
      busy.current = false;
    }
  }, [id, keysKey, xAxis, full, set]);

  useEffect(() => {
    tick.current = 0;
    void full();
  }, [full]);

  useEffect(() => {
    if (!live) return;
    const t = window.setInterval(() => {
      if (busy.current || document.visibilityState !== "visible") return;
      tick.current += 1;
      void (tick.current % REFRESH_EVERY === 0 ? full() : tail());
    }, POLL_MS);
    return () => window.clearInterval(t);
  }, [live, full, tail]);

  // The run just ended: one last full read shows its final state.
  const wasLive = useRef(live);
  useEffect(() => {
    if (wasLive.current && !live) void full();
    wasLive.current = live;
  }, [live, full]);

  return { series, error };
}
