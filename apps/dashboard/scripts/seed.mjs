/**
 * Demo and test data for the dashboard: runs of several methods on two datasets with loss, learning
 * rate, kNN accuracy and throughput curves, evaluations over seeds and label budgets, checkpoints,
 * an augmentation preview PNG and a PCA scatter. Deterministic (seeded), so tests can assert on it.
 *
 *   node scripts/seed.mjs [--runs 40] [--points 1500]   seeds the store the dashboard would open
 *
 * Also imported by the tests and the benchmark (seedDemo, seedBulk).
 */
import { deflateSync } from "node:zlib";

/** sfc32: small, fast, seeded. */
export function rng(seed = 1) {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

export const METHODS = [
  { method: "simclr", family: "contrastive", options: { temperature: 0.5, projectionDim: 128 } },
  { method: "moco", family: "contrastive", options: { temperature: 0.2, queueSize: 4096, momentum: 0.99 } },
  { method: "byol", family: "contrastive", options: { momentum: 0.996, predictorDim: 256 } },
  { method: "barlow-twins", family: "contrastive", options: { lambda: 0.005, projectionDim: 512 } },
  { method: "vicreg", family: "contrastive", options: { simCoeff: 25, stdCoeff: 25, covCoeff: 1 } },
  { method: "rotation", family: "pretext", options: {} },
  { method: "jigsaw", family: "pretext", options: { grid: 3, permutations: 100 } },
  { method: "mae", family: "masked", options: { maskRatio: 0.75, decoderDepth: 2 } },
];
export const DATASETS = ["mnist", "cifar10"];
export const BACKBONES = ["convnet", "resnet18", "vit-tiny"];

/** A minimal RGB PNG encoder (no dependency): width x height, pixel(x, y) -> [r, g, b]. */
export function encodePng(width, height, pixel) {
  const crcTable = new Int32Array(256).map((_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c;
  });
  const crc = (buf) => {
    let c = -1;
    for (const byte of buf) c = crcTable[(c ^ byte) & 255] ^ (c >>> 8);
    return (c ^ -1) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0;
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      const o = y * (width * 3 + 1) + 1 + x * 3;
      raw[o] = r;
      raw[o + 1] = g;
      raw[o + 2] = b;
    }
  }
  return new Uint8Array(
    Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk("IHDR", ihdr),
      chunk("IDAT", deflateSync(raw)),
      chunk("IEND", Buffer.alloc(0)),
    ]),
  );
}

/** A grid of "augmented views": 8 x 4 tiles of a digit-like blob, each shifted and recoloured. */
function augmentPreview(rand) {
  const tile = 28;
  const cols = 8;
  const rows = 4;
  const params = Array.from({ length: cols * rows }, () => ({
    dx: (rand() - 0.5) * 10,
    dy: (rand() - 0.5) * 10,
    s: 0.7 + rand() * 0.6,
    hue: rand(),
    flip: rand() < 0.5,
  }));
  return encodePng(cols * tile, rows * tile, (x, y) => {
    const p = params[Math.floor(y / tile) * cols + Math.floor(x / tile)];
    let u = (x % tile) - 14 - p.dx;
    const v = (y % tile) - 14 - p.dy;
    if (p.flip) u = -u;
    const r = Math.hypot(u / p.s, (v / p.s) * 0.6);
    const ring = Math.exp(-((r - 7) ** 2) / 6) + (Math.abs(u / p.s - 3) < 1.5 && Math.abs(v) < 9 ? 0.8 : 0);
    const k = Math.min(1, ring);
    return [
      Math.round(255 * k * (0.5 + 0.5 * p.hue)),
      Math.round(255 * k * (1 - p.hue * 0.5)),
      Math.round(255 * k),
    ];
  });
}

/** A PCA artifact shaped as the runner writes it: rows of [x, y] and the classes alongside. */
function pcaScatter(rand, classes = 10, perClass = 60, separation = 1) {
  const points = [];
  const labels = [];
  for (let c = 0; c < classes; c++) {
    const angle = (c / classes) * Math.PI * 2;
    const cx = Math.cos(angle) * 4 * separation;
    const cy = Math.sin(angle) * 3 * separation;
    for (let i = 0; i < perClass; i++) {
      const g = () => (rand() + rand() + rand() - 1.5) * 1.4;
      points.push([cx + g(), cy + g()]);
      labels.push(c);
    }
  }
  return { split: "test", points, labels, explainedVariance: [0.31, 0.17] };
}

/** Curves of one run: loss, lr, knn_top1 (every 100 steps), images_per_sec. */
export function runCurves(rand, steps, quality, t0) {
  const points = [];
  const peak = 3e-3 * (0.5 + rand());
  const warm = Math.max(1, Math.round(steps * 0.05));
  for (let s = 0; s < steps; s++) {
    const wallTime = new Date(t0 + s * 250 + Math.round(rand() * 40));
    const decay = Math.exp(-s / (steps * (0.25 + 0.2 * (1 - quality))));
    let loss = 0.6 + (1 - quality) * 0.8 + 4 * decay + (rand() - 0.5) * 0.15;
    if (rand() < 0.002) loss += 2 + rand() * 3; // rare spikes: the band must keep them
    points.push({ key: "loss", step: s, value: loss, wallTime });
    const lr =
      s < warm
        ? (peak * (s + 1)) / warm
        : peak * 0.5 * (1 + Math.cos((Math.PI * (s - warm)) / (steps - warm)));
    points.push({ key: "lr", step: s, value: lr, wallTime });
    points.push({
      key: "images_per_sec",
      step: s,
      value: 900 + quality * 300 + (rand() - 0.5) * 120,
      wallTime,
    });
    if (s % 100 === 0 || s === steps - 1) {
      const acc = 0.1 + (0.35 + quality * 0.55) * (1 - Math.exp(-s / (steps * 0.3))) + (rand() - 0.5) * 0.02;
      points.push({ key: "knn_top1", step: s, value: Math.min(0.995, acc), wallTime });
    }
  }
  return points;
}

/**
 * Seeds `count` runs (the first `withMetrics` of them with curves of `points` steps) plus results.
 * Returns the created runs, newest last.
 */
export async function seedDemo(
  store,
  { count = 40, withMetrics = 8, points = 1500, seed = 7, running = true, now = Date.now() } = {},
) {
  const rand = rng(seed);
  const runs = [];
  for (let i = 0; i < count; i++) {
    const m = METHODS[i % METHODS.length];
    const dataset = DATASETS[Math.floor(i / METHODS.length) % DATASETS.length];
    const backbone = m.family === "masked" ? "vit-tiny" : BACKBONES[i % 2];
    const quality = 0.3 + 0.7 * rand();
    const lr = [1e-3, 3e-4, 2e-3][i % 3];
    const batchSize = [128, 256][i % 2];
    const createdAt = new Date(now - (count - i) * 3_600_000);
    const isRunning = running && i === count - 1;
    const status = isRunning ? "running" : i % 13 === 5 ? "failed" : i % 17 === 9 ? "cancelled" : "finished";
    const config = {
      method: { name: m.method, options: m.options },
      backbone: {
        name: backbone,
        options: backbone === "vit-tiny" ? { patchSize: 4, depth: 6 } : { width: 32 },
      },
      dataset: { name: dataset, split: "train" },
      optimizer: { name: "adamw", lr, weightDecay: 1e-4 },
      schedule: { name: "cosine", warmupSteps: 75 },
      augment: [
        { name: "randomResizedCrop", options: { scale: [0.2, 1] } },
        { name: "horizontalFlip" },
        ...(dataset === "cifar10" ? [{ name: "colorJitter", options: { strength: 0.5 } }] : []),
      ],
      batchSize,
      steps: points,
      seed: i,
    };
    const run = await store.createRun({
      name: `${m.method}-${dataset}-${String(i).padStart(3, "0")}`,
      method: m.method,
      family: m.family,
      dataset,
      backbone,
      backend: "wasm",
      host: `gpu-${(i % 3) + 1}`,
      config,
      status: isRunning ? "running" : "queued",
      tags: [i % 4 === 0 ? "baseline" : "sweep", ...(i % 5 === 0 ? ["paper"] : [])],
      notes: i % 6 === 0 ? `lr sweep point ${lr}` : null,
      createdAt,
    });
    if (!isRunning) await store.markStarted(run.id, { host: `gpu-${(i % 3) + 1}`, backend: "wasm" });
    const knn = 0.45 + quality * 0.5;
    if (i < withMetrics || isRunning) {
      const steps = isRunning ? Math.round(points * 0.4) : points;
      await store.appendMetrics(run.id, runCurves(rand, steps, quality, createdAt.getTime()));
    }
    if (status !== "running") {
      for (const labelsPerClass of [10, 100, null]) {
        for (const s of [0, 1, 2]) {
          const v = Math.min(
            0.995,
            knn - (labelsPerClass === 10 ? 0.12 : labelsPerClass === 100 ? 0.04 : 0) + (rand() - 0.5) * 0.02,
          );
          await store.addEvaluation({
            runId: run.id,
            protocol: "knn",
            labelsPerClass,
            seed: s,
            metric: "top1",
            value: v,
          });
          await store.addEvaluation({
            runId: run.id,
            protocol: "linear",
            labelsPerClass,
            seed: s,
            metric: "top1",
            value: Math.min(0.995, v + 0.03),
          });
        }
      }
      await store.addCheckpoint({
        runId: run.id,
        path: `.selfsup/checkpoints/${run.id}/latest`,
        step: points,
        checksum: `sha256:${run.id.toLowerCase()}`,
        kind: "latest",
      });
      await store.addCheckpoint({
        runId: run.id,
        path: `.selfsup/checkpoints/${run.id}/best`,
        step: Math.round(points * 0.8),
        kind: "best",
      });
      await store.finishRun(run.id, {
        status,
        summary: { knn_top1: knn, loss: 0.6 + (1 - quality) * 0.8, images_per_sec: 900 + quality * 300 },
        error: status === "failed" ? "NaN loss at step 812 (the NaN guard stopped the run)" : null,
      });
    } else {
      await store.updateSummary(run.id, { loss: 1.4 });
    }
    if (i < withMetrics || isRunning) {
      await store.addArtifact({
        runId: run.id,
        kind: "augment-preview",
        name: "views.png",
        mime: "image/png",
        step: 0,
        bytes: augmentPreview(rand),
      });
      await store.addArtifact({
        runId: run.id,
        kind: "pca",
        name: "embeddings",
        mime: "application/json",
        step: points,
        data: pcaScatter(rand, 10, 60, 0.4 + quality),
      });
    }
    // The store stamps start and finish with now(); spread them like a real history instead.
    const minutes = 20 + Math.round(rand() * 90);
    await store.db.query(
      `UPDATE runs SET started_at = created_at + interval '20 seconds',
         finished_at = CASE WHEN finished_at IS NULL THEN NULL ELSE created_at + $2 * interval '1 minute' END,
         heartbeat_at = CASE WHEN status = 'running' THEN now() ELSE heartbeat_at END
       WHERE id = $1`,
      [run.id, minutes],
    );
    runs.push(await store.getRun(run.id));
  }
  return runs;
}

/** The bulk series' value at step g (SQL, float8 throughout: numeric literals make exp/sin 8x slower). */
const BULK_VALUE = (g) =>
  `(1 + 3 * exp(-(${g})::float8 / 2e6::float8) + 0.1::float8 * sin((${g})::float8 / 997::float8)
     + CASE WHEN (${g}) % 1000003 = 0 THEN 25 ELSE 0 END)`;

/**
 * Bulk data for benchmarks, written by SQL (generate_series) straight into the tables rather than
 * row by row through the store: `runs` runs, and one run with `points` loss points (a point every
 * 10 ms) together with its series levels. Uses the store's `db` hatch.
 *
 * Runs: the secondary indexes of `runs` are dropped and created again after the load (one sorted
 * build instead of 100,000 trigram GIN insertions), and as a superuser the triggers are off while
 * `run_summary` is filled by one INSERT and `runs_count` set once. Points: each chunk of 1,000,000 steps (whole level-1
 * blocks of 16 steps and of 1 s) is inserted and its level-1 rows of both pyramids are aggregated
 * from the inserted rows in the same statement; the levels above come from the level below.
 * `log(message)` is told when each part is done.
 */
export async function seedBulk(
  store,
  { runs = 100_000, points = 10_000_000, chunk = 1_000_000, olderThanHours = 0, log = () => {} } = {},
) {
  const [{ su }] = await store.db.query("SELECT rolsuper AS su FROM pg_roles WHERE rolname = current_user");
  await store.db.transaction(async (tx) => {
    const indexes = await tx.query(
      `SELECT indexname, indexdef FROM pg_indexes
       WHERE schemaname = current_schema() AND tablename = 'runs' AND indexname <> 'runs_pkey'`,
    );
    for (const i of indexes) await tx.exec(`DROP INDEX "${i.indexname}"`);
    if (su) await tx.exec("SET LOCAL session_replication_role = replica");
    await tx.exec(`
    INSERT INTO runs (id, name, method, family, dataset, backbone, backend, host, config, status, tags, summary, created_at, started_at, finished_at)
    SELECT 'b' || lpad(g::text, 7, '0'),
           (ARRAY['simclr','moco','byol','barlow-twins','vicreg','rotation','jigsaw','mae'])[1 + g % 8] || '-' || g,
           (ARRAY['simclr','moco','byol','barlow-twins','vicreg','rotation','jigsaw','mae'])[1 + g % 8],
           (ARRAY['contrastive','contrastive','contrastive','contrastive','contrastive','pretext','pretext','masked'])[1 + g % 8],
           (ARRAY['mnist','cifar10'])[1 + g % 2],
           (ARRAY['convnet','resnet18','vit-tiny'])[1 + g % 3],
           'wasm', 'gpu-' || (1 + g % 16),
           jsonb_build_object('optimizer', jsonb_build_object('lr', 0.001 * (1 + g % 5)), 'batchSize', 128 * (1 + g % 2)),
           (ARRAY['finished','finished','finished','failed','cancelled','finished','interrupted','finished'])[1 + g % 8],
           ARRAY[(ARRAY['sweep','baseline','paper'])[1 + g % 3]],
           jsonb_build_object('knn_top1', 0.5 + (g % 1000) / 2000.0, 'loss', 0.5 + (g % 777) / 500.0),
           now() - ${Number(olderThanHours)} * interval '1 hour' - (g * interval '1 minute'),
           now() - ${Number(olderThanHours)} * interval '1 hour' - (g * interval '1 minute') + interval '10 seconds',
           now() - ${Number(olderThanHours)} * interval '1 hour' - (g * interval '1 minute') + interval '50 seconds'
    FROM generate_series(1, ${Number(runs)}) AS g`);
    if (su) {
      // What the runs_summary_sync trigger would have written.
      await tx.exec(`
        INSERT INTO run_summary (run_id, key, value)
        SELECT r.id, e.key, (e.value #>> '{}')::float8
        FROM runs r CROSS JOIN LATERAL jsonb_each(r.summary) AS e
        WHERE r.id ~ '^b[0-9]{7}$' AND jsonb_typeof(e.value) = 'number'`);
      // And what the runs_count triggers would have added.
      await tx.exec(`
        DELETE FROM runs_count;
        INSERT INTO runs_count (method, status, n) SELECT method, status, count(*) FROM runs GROUP BY method, status`);
    }
    for (const i of indexes) await tx.exec(i.indexdef);
  });
  log(`${runs} runs`);
  if (points <= 0) return null;
  const run = await store.createRun({
    id: "bench-series",
    name: "bench-series",
    method: "simclr",
    family: "contrastive",
    dataset: "cifar10",
    createdAt: new Date(Date.now() - (olderThanHours + 1) * 3_600_000),
  });
  const [{ id: series }] = await store.db.query(
    "INSERT INTO metric_series (run_id, key) VALUES ('bench-series', 'loss') RETURNING id",
  );
  // Chunks of whole level-1 blocks on both axes: 16 steps, and 1 s = 100 steps.
  const size = Math.max(400, Math.floor(chunk / 400) * 400);
  for (let start = 0; start < points; start += size) {
    const end = Math.min(points, start + size) - 1;
    await store.db.exec(`
      WITH pts AS (
        INSERT INTO metric_points (series_id, step, value, wall_time)
        SELECT ${series}, g, ${BULK_VALUE("g")}, to_timestamp(1735689600::float8 + g::float8 / 100::float8)
        FROM generate_series(${start}, ${end}) AS g
        RETURNING step, value, round(date_part('epoch', wall_time) * 1000) AS tm
      ), by_step AS (
        INSERT INTO metric_levels (series_id, level, block, n, vmin, vmax, vsum, ssum, first_step, last_step, first_value, last_value)
        SELECT ${series}, 1, b, n, vmin, vmax, vsum, ssum, s0, s1, ${BULK_VALUE("s0")}, ${BULK_VALUE("s1")}
        FROM (SELECT step / 16 AS b, count(*)::int AS n, min(value) AS vmin, max(value) AS vmax, sum(value) AS vsum,
                     sum(step)::float8 AS ssum, min(step) AS s0, max(step) AS s1
              FROM pts GROUP BY step / 16) AS a
      )
      INSERT INTO metric_time_levels (series_id, level, block, n, vmin, vmax, vsum, tsum, tmin, tmax, smin, smax, last_value)
      SELECT ${series}, 1, b, n, vmin, vmax, vsum, tsum, tmin, tmax, s0, s1, ${BULK_VALUE("s1")}
      FROM (SELECT floor(tm / 1000)::bigint AS b, count(*)::int AS n, min(value) AS vmin, max(value) AS vmax,
                   sum(value) AS vsum, sum(tm) AS tsum, min(tm) AS tmin, max(tm) AS tmax, min(step) AS s0, max(step) AS s1
            FROM pts GROUP BY floor(tm / 1000)::bigint) AS a`);
  }
  log(`${points} points and their level-1 blocks`);
  // The levels above, each from the one below (as rebuildSeriesLevels does).
  for (let level = 2; level <= 5; level++) {
    await store.db.exec(`
      INSERT INTO metric_levels (series_id, level, block, n, vmin, vmax, vsum, ssum, first_step, last_step, first_value, last_value)
      SELECT series_id, ${level}, block >> 4, sum(n), min(vmin), max(vmax), sum(vsum), sum(ssum), min(first_step),
             max(last_step), (min(ARRAY[first_step::float8, first_value]))[2], (max(ARRAY[last_step::float8, last_value]))[2]
      FROM metric_levels WHERE series_id = ${series} AND level = ${level - 1} GROUP BY series_id, block >> 4`);
  }
  for (let level = 2; level <= 7; level++) {
    await store.db.exec(`
      INSERT INTO metric_time_levels (series_id, level, block, n, vmin, vmax, vsum, tsum, tmin, tmax, smin, smax, last_value)
      SELECT series_id, ${level}, block >> 4, sum(n), min(vmin), max(vmax), sum(vsum), sum(tsum), min(tmin), max(tmax),
             min(smin), max(smax), (max(ARRAY[tmax, smax::float8, last_value]))[3]
      FROM metric_time_levels WHERE series_id = ${series} AND level = ${level - 1} GROUP BY series_id, block >> 4`);
  }
  log("levels above");
  await store.finishRun(run.id, { status: "finished", summary: { loss: 1 } });
  return run;
}

// CLI: seed the store the dashboard opens (DATABASE_URL or SELFSUP_HOME), for a demo.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { openStore } = await import("@selfsup/store");
  const arg = (name, dflt) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const store = await openStore();
  try {
    const runs = await seedDemo(store, { count: arg("runs", 40), points: arg("points", 1500) });
    console.log(`seeded ${runs.length} demo runs`);
  } finally {
    await store.close();
  }
}
