/**
 * The resolvers, typed by the generated `Resolvers` (scripts/codegen.mjs): tsc checks every
 * field's arguments, parent object (a store row, see codegen's mappers) and result against the
 * SDL in schema.graphql.
 */
import type {
  Run,
  RunStore,
  Series,
  RunOrderField as StoreOrderField,
  RunFilter as StoreRunFilter,
} from "@selfsup/store";
import { GraphQLError } from "graphql";
import { diffConfigs } from "../lib/config-diff";
import { parseScatter } from "../lib/scatter";
import { parseSkippedFiles, SKIPPED_FILES_ARTIFACT } from "../lib/skipped-files";
import { mutationRefusal } from "./auth";
import { cachedFacets, cachedSeries } from "./caches";
import type { Context } from "./context";
import { decodePosition, encodePosition } from "./cursor";
import { BucketValue, Role, RunOrderField, RunStatus, SortDirection, XAxis } from "./enums";
import type { Resolvers, RunFilter, RunOrder } from "./generated/graphql";
import { badInput, checkRange, LIMITS } from "./limits";
import type { LeaderboardEntryModel } from "./models";
import { DateTimeScalar, JSONScalar } from "./scalars";
import { storeRole } from "./store";
import { sweepQueryResolvers, sweepTypeResolvers } from "./sweeps";

/** Inline data: URLs for binary artifacts up to this size. */
const MAX_DATA_URL_BYTES = 512 * 1024;

function toStoreFilter(filter: RunFilter | null | undefined): StoreRunFilter {
  const f: StoreRunFilter = {};
  if (!filter) return f;
  if (filter.method != null) f.method = filter.method;
  if (filter.family != null) f.family = filter.family;
  if (filter.dataset != null) f.dataset = filter.dataset;
  if (filter.backbone != null) f.backbone = filter.backbone;
  if (filter.status != null) f.status = filter.status;
  if (filter.tag != null) f.tag = filter.tag;
  if (filter.search != null && filter.search.trim() !== "") f.search = filter.search;
  if (filter.createdAfter != null) f.createdFrom = filter.createdAfter;
  if (filter.createdBefore != null) f.createdTo = filter.createdBefore;
  return f;
}

function toStoreOrder(order: RunOrder | null | undefined): {
  field: StoreOrderField;
  direction: "asc" | "desc";
} {
  const direction = order?.direction ?? SortDirection.DESC;
  const field = order?.field ?? RunOrderField.CREATED_AT;
  if (field === RunOrderField.SUMMARY) {
    if (!order?.summaryKey)
      throw badInput("orderBy.summaryKey is required when orderBy.field is SUMMARY", "orderBy.summaryKey");
    return { field: `summary:${order.summaryKey}`, direction };
  }
  if (order?.summaryKey)
    throw badInput("orderBy.summaryKey goes with orderBy.field SUMMARY only", "orderBy.summaryKey");
  return { field, direction };
}

function requireWrite(ctx: Context): void {
  const refusal = mutationRefusal(ctx.role, ctx.auth);
  if (refusal) throw new GraphQLError(refusal.message, { extensions: { code: refusal.code } });
}

async function requireRun(ctx: Context, id: string): Promise<Run> {
  const run = await ctx.store.getRun(id);
  if (!run)
    throw new GraphQLError(`no run with id ${JSON.stringify(id)}`, {
      extensions: { code: "NOT_FOUND", field: "id" },
    });
  return run;
}

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

function checkId(id: string, field = "id"): void {
  if (!ID_RE.test(id))
    throw badInput(
      `${field}: must be 1-64 characters of A-Z a-z 0-9 _ - (got ${JSON.stringify(id.slice(0, 80))})`,
      field,
    );
}

function checkKeys(name: string, keys: readonly string[], max: number): void {
  if (keys.length === 0) throw badInput(`${name} must name at least one key`, name);
  if (keys.length > max) throw badInput(`${name} may name at most ${max} keys (got ${keys.length})`, name);
}

function withRanks(entries: Awaited<ReturnType<RunStore["leaderboard"]>>): LeaderboardEntryModel[] {
  let budget: number | null | undefined;
  let rank = 0;
  return entries.map((e) => {
    if (e.labelsPerClass !== budget) {
      budget = e.labelsPerClass;
      rank = 0;
    }
    rank += 1;
    return {
      rank,
      method: e.method,
      family: e.family,
      labelsPerClass: e.labelsPerClass,
      value: e.value,
      std: e.std,
      seeds: e.seeds,
      backbone: e.backbone,
      runId: e.runId,
    };
  });
}

export const resolvers: Resolvers = {
  JSON: JSONScalar,
  DateTime: DateTimeScalar,
  RunStatus,
  SortDirection,
  RunOrderField,
  XAxis,
  BucketValue,
  Role,

  Query: {
    ...sweepQueryResolvers,
    async runs(_parent, { filter, orderBy, first, after }, ctx) {
      const size = first ?? 50;
      checkRange("first", size, 0, LIMITS.maxPageSize);
      const position = after ? decodePosition(after, LIMITS.maxPageSize) : { after: null, skip: 0 };
      const storeFilter = toStoreFilter(filter);
      // Without config (large JSON the runs page does not show): Run.config loads it if asked.
      const page = await ctx.store.listRunListings({
        filter: storeFilter,
        orderBy: toStoreOrder(orderBy),
        first: size + position.skip,
        after: position.after,
      });
      const runs = page.runs.slice(position.skip);
      const edges = runs.map((node, i) => ({
        node,
        cursor:
          i === runs.length - 1 && page.pageInfo.endCursor
            ? encodePosition({ after: page.pageInfo.endCursor, skip: 0 })
            : encodePosition({ after: position.after, skip: position.skip + i + 1 }),
      }));
      return {
        edges,
        filter: storeFilter,
        pageInfo: {
          hasNextPage: page.pageInfo.hasNextPage,
          hasPreviousPage: after != null,
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges[edges.length - 1]?.cursor ?? null,
        },
      };
    },
    runCount: (_parent, { filter }, ctx) => ctx.store.countRuns(toStoreFilter(filter)),
    runGroups: (_parent, { filter, by, metric, limit }, ctx) =>
      ctx.store.groupRuns({
        filter: toStoreFilter(filter),
        by: by as "method",
        metric,
        ...(limit != null ? { limit } : {}),
      }),
    run: (_parent, { id }, ctx) => {
      checkId(id);
      return ctx.loaders.run.load(id);
    },
    async compare(_parent, { ids, keys, maxPoints, xAxis }, ctx) {
      const unique = [...new Set(ids)];
      if (unique.length === 0) throw badInput("ids must name at least one run", "ids");
      if (unique.length > LIMITS.maxCompareRuns) {
        throw badInput(`compare takes at most ${LIMITS.maxCompareRuns} runs (got ${unique.length})`, "ids");
      }
      for (const id of unique) checkId(id, "ids");
      const points = maxPoints ?? 500;
      checkRange("maxPoints", points, 2, LIMITS.maxPoints);
      const found = await ctx.loaders.run.loadMany(unique);
      const runs: Run[] = [];
      const missing: string[] = [];
      found.forEach((r, i) => {
        if (r && !(r instanceof Error)) runs.push(r);
        else missing.push(unique[i]);
      });
      if (missing.length) {
        throw new GraphQLError(`no run with id ${missing.map((m) => JSON.stringify(m)).join(", ")}`, {
          extensions: { code: "NOT_FOUND", field: "ids" },
        });
      }
      let chosen: string[];
      if (keys && keys.length > 0) {
        checkKeys("keys", keys, LIMITS.maxSeriesKeys);
        chosen = [...new Set(keys)];
      } else {
        // Default: the keys every run has; failing that, all of them.
        const perRun = await ctx.loaders.metricKeys.loadMany(unique);
        const lists = perRun.map((k) => (Array.isArray(k) ? k : []));
        const common = lists.length ? lists[0].filter((k) => lists.every((l) => l.includes(k))) : [];
        chosen = (common.length ? common : [...new Set(lists.flat())].sort()).slice(0, LIMITS.maxSeriesKeys);
      }
      return { runs, keys: chosen, maxPoints: points, xAxis: xAxis ?? XAxis.STEP };
    },
    async leaderboard(_parent, { dataset, protocol, metric, labelsPerClass, lowerIsBetter }, ctx) {
      const entries = await ctx.store.leaderboard(dataset, protocol, metric ?? "top1", {
        ...(labelsPerClass !== undefined ? { labelsPerClass } : {}),
        lowerIsBetter: lowerIsBetter ?? false,
      });
      return withRanks(entries);
    },
    leaderboardScopes: (_parent, _args, ctx) => ctx.store.leaderboardScopes(),
    facets: (_parent, _args, ctx) => cachedFacets(ctx.store),
    methods: async (_parent, _args, ctx) => (await ctx.catalogue()).methods,
    plugins: async (_parent, _args, ctx) => {
      const c = await ctx.catalogue();
      return { plugins: c.plugins, failures: c.failures };
    },
    storeInfo: (_parent, _args, ctx) => storeRole(ctx.store),
    viewer: (_parent, _args, ctx) => ({
      role: ctx.role,
      canMutate: mutationRefusal(ctx.role, ctx.auth) === null,
      loginRequired: ctx.auth.loginRequired,
    }),
  },

  Mutation: {
    async tagRun(_parent, { id, add, remove }, ctx) {
      requireWrite(ctx);
      const adds = add ?? [];
      const removes = remove ?? [];
      if (adds.length + removes.length > LIMITS.maxTags) {
        throw badInput(`tagRun takes at most ${LIMITS.maxTags} tags at once`, "add");
      }
      await requireRun(ctx, id);
      for (const t of adds) await ctx.store.addTag(id, t);
      for (const t of removes) await ctx.store.removeTag(id, t);
      return requireRun(ctx, id);
    },
    async setNote(_parent, { id, note }, ctx) {
      requireWrite(ctx);
      await ctx.store.setNote(id, note ?? null);
      return requireRun(ctx, id);
    },
    async cancelRun(_parent, { id }, ctx) {
      requireWrite(ctx);
      const run = await requireRun(ctx, id);
      if (run.status !== "queued" && run.status !== "running") {
        throw new GraphQLError(
          `run ${id} has already ended (${run.status}); only queued or running runs can be cancelled`,
          {
            extensions: { code: "CONFLICT", field: "id" },
          },
        );
      }
      const control = await ctx.control();
      await control.cancel(id);
      return requireRun(ctx, id);
    },
    async submitRun(_parent, { input }, ctx) {
      requireWrite(ctx);
      const config = input.config;
      if (!config || typeof config !== "object" || Array.isArray(config)) {
        throw badInput("input.config must be a JSON object (the run config)", "input.config");
      }
      const control = await ctx.control();
      const { id } = await control.submit({
        config: config as Record<string, unknown>,
        ...(input.name != null ? { name: input.name } : {}),
        ...(input.tags != null ? { tags: input.tags } : {}),
        ...(input.notes != null ? { notes: input.notes } : {}),
      });
      return { id };
    },
  },

  RunConnection: {
    edges: (conn) => conn.edges,
    pageInfo: (conn) => conn.pageInfo,
    totalCount: (conn, _args, ctx) => ctx.store.countRuns(conn.filter),
  },

  Run: {
    summaryValue: (run, { key }) => {
      const v = run.summary[key];
      return typeof v === "number" ? v : null;
    },
    durationSeconds: (run) => {
      if (!run.startedAt) return null;
      const end = run.finishedAt ?? (run.status === "running" ? new Date() : run.heartbeatAt);
      return end ? Math.max(0, (end.getTime() - run.startedAt.getTime()) / 1000) : null;
    },
    config: async (run, _args, ctx) => run.config ?? (await ctx.loaders.run.load(run.id))?.config ?? {},
    parent: (run, _args, ctx) => (run.parentId ? ctx.loaders.run.load(run.parentId) : null),
    resumedFromRun: (run, _args, ctx) => (run.resumedFrom ? ctx.loaders.run.load(run.resumedFrom) : null),
    metricKeys: (run, _args, ctx) => ctx.loaders.metricKeys.load(run.id),
    async metricStats(run, { keys }, ctx) {
      checkKeys("keys", keys, LIMITS.maxStatsKeys);
      return Promise.all([...new Set(keys)].map((k) => ctx.loaders.metricStats.load(`${run.id}\u0000${k}`)));
    },
    async series(run, { keys, maxPoints, xAxis, range, bucketValue }, ctx) {
      checkKeys("keys", keys, LIMITS.maxSeriesKeys);
      const points = maxPoints ?? 1000;
      checkRange("maxPoints", points, 2, LIMITS.maxPoints);
      return cachedSeries(ctx.store, run, [...new Set(keys)], {
        maxPoints: points,
        xAxis: xAxis ?? XAxis.STEP,
        y: bucketValue ?? BucketValue.MEAN,
        ...(range ? { range: { from: range.from ?? null, to: range.to ?? null } } : {}),
      });
    },
    evaluations: (run, _args, ctx) => ctx.loaders.evaluations.load(run.id),
    checkpoints: (run, _args, ctx) => ctx.loaders.checkpoints.load(run.id),
    async artifacts(run, { kind }, ctx) {
      const all = await ctx.loaders.artifacts.load(run.id);
      return kind ? all.filter((a) => a.kind === kind) : all;
    },
    async skippedFiles(run, { first }, ctx) {
      const n = first ?? 200;
      checkRange("first", n, 0, LIMITS.maxSkippedFiles);
      const all = await ctx.loaders.artifacts.load(run.id);
      const art = all.find((a) => a.kind === "data" && a.name === SKIPPED_FILES_ARTIFACT);
      return art ? parseSkippedFiles(art.data, n) : null;
    },
  },

  Evaluation: { id: (e) => String(e.id) },
  Checkpoint: { id: (c) => String(c.id) },

  Artifact: {
    id: (a) => String(a.id),
    url: (a) =>
      a.data === null
        ? `/api/artifacts/${encodeURIComponent(a.runId)}/${encodeURIComponent(a.kind)}/${encodeURIComponent(a.name)}`
        : null,
    async dataUrl(a, _args, ctx) {
      if (a.data !== null || a.size > MAX_DATA_URL_BYTES) return null;
      const full = a.bytes ? a : await ctx.store.getArtifact(a.runId, a.kind, a.name);
      if (!full?.bytes) return null;
      return `data:${full.mime};base64,${Buffer.from(full.bytes).toString("base64")}`;
    },
    data: (a) => a.data,
    points: (a) => (a.data === null ? null : parseScatter(a.data)),
  },

  Comparison: {
    runs: (c) => c.runs,
    keys: (c) => c.keys,
    async series(c, _args, ctx) {
      const out: Array<{ runId: string; series: Series }> = [];
      if (c.keys.length === 0) return out;
      for (const run of c.runs) {
        const series = await cachedSeries(ctx.store, run, c.keys, { maxPoints: c.maxPoints, xAxis: c.xAxis });
        for (const s of series) out.push({ runId: run.id, series: s });
      }
      return out;
    },
    configDiff: (c) =>
      diffConfigs(c.runs.map((r) => r.config)).map((d) => ({
        path: d.path,
        values: d.values.map((v) => (v === undefined ? null : v)),
      })),
  },

  LeaderboardEntry: {
    async run(e, _args, ctx) {
      const run = await ctx.loaders.run.load(e.runId);
      if (!run) throw new GraphQLError(`run ${e.runId} vanished`, { extensions: { code: "NOT_FOUND" } });
      return run;
    },
  },

  ...sweepTypeResolvers,
  SubmitRunResult: {
    run: (r, _args, ctx) => ctx.loaders.run.load(r.id),
  },
};
