/**
 * Rendering progress for people and machines:
 * - a TTY gets a cli-progress bar per epoch (step, ETA, images/s, loss, LR);
 * - a pipe or file gets one log line every few seconds (and at epoch ends);
 * - `--json` prints every event as one JSON line on stdout.
 */
import cliProgress from "cli-progress";
import type { ProgressEvent, ProgressSink, StepEvent } from "./events.js";

export type ReporterKind = "bar" | "log" | "json" | "silent";

export interface Reporter {
  sink: ProgressSink;
  /** Stops any bar (before printing something else, or at exit). */
  close(): void;
}

export function chooseReporter(
  opts: { json?: boolean; quiet?: boolean },
  stream: NodeJS.WriteStream = process.stderr,
): ReporterKind {
  if (opts.json) return "json";
  if (opts.quiet) return "silent";
  return stream.isTTY ? "bar" : "log";
}

export function fmtNum(v: number, digits = 4): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(2);
  return v.toPrecision(digits);
}

export function fmtDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return "?";
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

function describe(e: ProgressEvent): string | undefined {
  switch (e.type) {
    case "start":
      return [
        `run ${e.runId} (${e.name}): ${e.method} on ${e.dataset}, ${e.epochs} epoch(s) x ${e.stepsPerEpoch} steps = ${e.totalSteps} steps${e.resumed ? `, resuming at step ${e.startStep}` : ""}`,
        e.backendReport,
        `run directory: ${e.runDir}`,
      ].join("\n");
    case "epoch": {
      const evals = Object.entries(e.evals).map(([k, v]) => `${k} ${fmtNum(v)}`);
      return `epoch ${e.epoch + 1}/${e.epochs} done at step ${e.step}: mean loss ${fmtNum(e.loss)}${evals.length ? `, ${evals.join(", ")}` : ""}`;
    }
    case "checkpoint":
      return undefined;
    case "eval":
      return `eval ${e.protocol}${e.labelsPerClass ? ` (${e.labelsPerClass} labels/class)` : ""} ${e.metric} = ${fmtNum(e.value)}${e.std !== undefined ? ` ± ${fmtNum(e.std)}` : ""}`;
    case "log":
      return `${e.level === "warn" ? "warning: " : ""}${e.message}`;
    case "end":
      return `run ${e.runId} ${e.status} at step ${e.step} after ${fmtDuration(e.durationSec)}${e.error ? `: ${e.error}` : ""}${
        Object.keys(e.summary).length
          ? `\n  ${Object.entries(e.summary)
              .map(([k, v]) => `${k} ${fmtNum(v)}`)
              .join(", ")}`
          : ""
      }`;
    case "step":
      return undefined;
  }
}

function stepLine(e: StepEvent): string {
  return `epoch ${e.epoch + 1}/${e.epochs} step ${e.epochStep}/${e.stepsPerEpoch} (global ${e.step}/${e.totalSteps}) loss ${fmtNum(e.loss)} lr ${fmtNum(e.lr, 3)} ${e.imagesPerSec.toFixed(0)} img/s ETA ${fmtDuration(e.etaSec)}`;
}

export function createReporter(
  kind: ReporterKind,
  opts: { stream?: NodeJS.WriteStream; logEveryMs?: number; out?: NodeJS.WritableStream } = {},
): Reporter {
  const stream = opts.stream ?? process.stderr;
  const out = opts.out ?? process.stdout;
  if (kind === "silent") {
    // Quiet means no progress, never no error: a failure and warnings still reach stderr.
    return {
      sink: (e) => {
        const problem = (e.type === "end" && e.error) || (e.type === "log" && e.level !== "info");
        const text = problem ? describe(e) : undefined;
        if (text) stream.write(`${text}\n`);
      },
      close: () => {},
    };
  }
  if (kind === "json") {
    return {
      sink: (e) => {
        out.write(`${JSON.stringify({ ...e, time: new Date().toISOString() })}\n`);
      },
      close: () => {},
    };
  }
  if (kind === "log") {
    const every = opts.logEveryMs ?? 5_000;
    let last = 0;
    return {
      sink: (e) => {
        if (e.type === "step") {
          const now = Date.now();
          if (now - last >= every || e.step === e.totalSteps) {
            last = now;
            stream.write(`${new Date().toISOString()} ${stepLine(e)}\n`);
          }
          return;
        }
        const text = describe(e);
        if (text) stream.write(`${text}\n`);
      },
      close: () => {},
    };
  }
  // bar
  let bar: cliProgress.SingleBar | undefined;
  let barEpoch = -1;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    sink: (e) => {
      if (e.type === "step") {
        if (!bar || barEpoch !== e.epoch) {
          stop();
          barEpoch = e.epoch;
          bar = new cliProgress.SingleBar(
            {
              stream,
              format: `epoch ${e.epoch + 1}/${e.epochs} |{bar}| {value}/{total} | ETA {etaText} | {ips} img/s | loss {loss} | lr {lr}`,
              hideCursor: true,
              barsize: 24,
              fps: 5,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(e.stepsPerEpoch, e.epochStep - 1, { etaText: "?", ips: "-", loss: "-", lr: "-" });
        }
        bar.update(e.epochStep, {
          etaText: fmtDuration(e.etaSec),
          ips: e.imagesPerSec.toFixed(0),
          loss: fmtNum(e.loss),
          lr: fmtNum(e.lr, 3),
        });
        return;
      }
      const text = describe(e);
      if (!text) return;
      if (e.type === "epoch" || e.type === "end") stop();
      if (bar) {
        // print above the bar without breaking it
        stream.write(`\r\x1b[2K${text}\n`);
      } else {
        stream.write(`${text}\n`);
      }
    },
    close: stop,
  };
}
