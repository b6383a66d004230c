import { execFileSync, spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const PKG = join(dirname(fileURLToPath(import.meta.url)), "..");
const FIXTURE = join(PKG, "test", "fixtures", "store-process.mjs");

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** The child processes run the built package: build it when dist/ is missing or older than src/. */
export function ensureBuilt(): void {
  let built = 0;
  try {
    built = statSync(join(PKG, "dist", "index.js")).mtimeMs;
  } catch {
    // not built
  }
  if (built >= newestMtime(join(PKG, "src"))) return;
  execFileSync("pnpm", ["build"], { cwd: PKG, stdio: "inherit" });
}

export interface RemoteError {
  name?: string;
  message: string;
  code?: string;
  reason?: string;
  holderPid?: number;
}

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: RemoteError };

/** Another process with @selfsup/store (dist) loaded, driven over stdin/stdout (fixtures/store-process.mjs). */
export class StoreProcess {
  readonly pid: number;
  private readonly child;
  private readonly pending = new Map<number, (r: Reply) => void>();
  private next = 1;
  readonly exited: Promise<number | null>;
  private stderr = "";

  private constructor() {
    this.child = spawn(process.execPath, [FIXTURE], { stdio: ["pipe", "pipe", "pipe"] });
    this.pid = this.child.pid!;
    this.child.stderr.on("data", (d: Buffer) => {
      this.stderr += d.toString();
    });
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      const msg = JSON.parse(line) as Reply;
      this.pending.get(msg.id)?.(msg);
      this.pending.delete(msg.id);
    });
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
  }

  static async start(): Promise<StoreProcess> {
    const p = new StoreProcess();
    await new Promise<void>((resolve, reject) => {
      p.pending.set(0, () => resolve());
      p.exited.then((code) => reject(new Error(`store process exited (${code}): ${p.stderr}`)));
    });
    return p;
  }

  /** Sends one operation; resolves with the reply (ok or error) without throwing on remote errors. */
  send(op: string, args: unknown = {}): Promise<Reply> {
    const id = this.next++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, resolve);
      this.exited.then((code) =>
        reject(new Error(`store process exited (${code}) during ${op}: ${this.stderr}`)),
      );
      this.child.stdin.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  /** Sends one operation and returns its result; a remote error is thrown here with its message. */
  async call<T = unknown>(op: string, args: unknown = {}): Promise<T> {
    const r = await this.send(op, args);
    if (!r.ok) throw Object.assign(new Error(`${op}: ${r.error.message}`), { remote: r.error });
    return r.result as T;
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    this.child.kill(signal);
    return this.exited;
  }
}
