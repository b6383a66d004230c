/**
 * Serving an embedded PGlite database to other processes on loopback.
 *
 * The process holding a PGlite directory (see lock.ts) listens on 127.0.0.1 (ephemeral port) and
 * speaks the PostgreSQL wire protocol through `@electric-sql/pglite-socket`'s PGLiteSocketHandler;
 * other processes connect with `pg`. PGlite has ONE backend session, so every connection and the
 * host's own queries share it. What keeps them apart is the {@link SessionGate}: one party at a
 * time owns the session for a "turn", which for a socket client lasts from its first message until
 * the server answers ReadyForQuery outside a transaction (a simple query, or an extended-protocol
 * Parse/Bind/Execute/Sync round, or a whole BEGIN..COMMIT), and for the host for one query or one
 * transaction. Turns are granted first come, first served.
 *
 * We use the package's connection handler (protocol framing, SSL and cancel requests) but not its
 * PGLiteSocketServer, whose shared queue (0.2.17) lets the host's own queries run inside a client's
 * open transaction (and be rolled back with it), stalls a client that queries while the host is in
 * a transaction, admits one connection by default (answering a second with a non-protocol "Too many
 * connections"), and keeps the process alive while it listens.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import type { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketHandler } from "@electric-sql/pglite-socket";

type Owner = "host" | number;

interface Waiter {
  who: Owner;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Who may use the PGlite session now. The host may hold it several times at once (PGlite's own
 * mutexes order host queries); a socket connection holds it alone. Waiters are served in order, and
 * a host request that arrives while a connection waits queues behind it (no starvation).
 */
export class SessionGate {
  private owner: Owner | null = null;
  private hostHolds = 0;
  private readonly waiters: Waiter[] = [];

  get current(): Owner | null {
    return this.owner;
  }

  acquire(who: Owner): Promise<void> {
    if (this.owner === null) {
      this.grant(who);
      return Promise.resolve();
    }
    if (who === "host" && this.owner === "host" && this.waiters.length === 0) {
      this.hostHolds++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => this.waiters.push({ who, resolve, reject }));
  }

  release(who: Owner): void {
    if (this.owner !== who) return;
    if (who === "host" && --this.hostHolds > 0) return;
    this.owner = null;
    this.hostHolds = 0;
    const next = this.waiters.shift();
    if (!next) return;
    this.grant(next.who);
    next.resolve();
    // Host requests queued right behind run together.
    if (next.who === "host") {
      while (this.waiters[0]?.who === "host") {
        const w = this.waiters.shift()!;
        this.hostHolds++;
        w.resolve();
      }
    }
  }

  /** Drops a connection's pending request (it disconnected while waiting). */
  cancel(who: number, err: Error): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.who === who) {
        this.waiters.splice(i, 1);
        w.reject(err);
      }
    }
  }

  async run<T>(who: Owner, fn: () => Promise<T>): Promise<T> {
    await this.acquire(who);
    try {
      return await fn();
    } finally {
      this.release(who);
    }
  }

  private grant(who: Owner): void {
    this.owner = who;
    this.hostHolds = who === "host" ? 1 : 0;
  }
}

const SYNC = new Uint8Array([0x53, 0, 0, 0, 4]);
const ROLLBACK = simpleQuery("ROLLBACK");

function simpleQuery(sql: string): Uint8Array {
  const body = Buffer.from(`${sql}\0`, "utf8");
  const msg = Buffer.alloc(5 + body.length);
  msg[0] = 0x51; // 'Q'
  msg.writeInt32BE(4 + body.length, 1);
  body.copy(msg, 5);
  return new Uint8Array(msg);
}

/** A FATAL ErrorResponse message. */
function errorResponse(code: string, message: string): Uint8Array {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`, "utf8");
  const msg = Buffer.alloc(5 + fields.length);
  msg[0] = 0x45; // 'E'
  msg.writeInt32BE(4 + fields.length, 1);
  fields.copy(msg, 5);
  return new Uint8Array(msg);
}

interface ConnState {
  /** Messages of one connection run strictly one after another, in arrival order. */
  chain: Promise<unknown>;
  inFlight: number;
  /** Date.now() of the connection's last message. */
  lastActivity: number;
  idleTimer?: NodeJS.Timeout;
  evicted: boolean;
  closed: boolean;
  /** Password checked (see ShareServerOptions.password); until then the startup packet waits here. */
  authed: boolean;
  startup?: Uint8Array;
}

/** Message types after which the server sends ReadyForQuery: Sync, Query, and the startup packet (0). */
const TURN_END_TYPES = new Set([0x53, 0x51, 0x00]);

/**
 * Stands in for pglite-socket's QueryQueueManager (same three methods the handler calls): runs a
 * connection's messages on PGlite inside that connection's turn of the {@link SessionGate}.
 */
class TurnQueue {
  private readonly conns = new Map<number, ConnState>();

  constructor(
    private readonly db: PGlite,
    private readonly gate: SessionGate,
    private readonly idleTurnMs: number,
    private readonly evict: (handlerId: number) => void,
    private readonly password: string | undefined,
  ) {}

  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    const st = this.state(handlerId);
    st.lastActivity = Date.now();
    const step = st.chain.then(() => this.process(handlerId, st, message, onData));
    st.chain = step.catch(() => {});
    return step;
  }

  getQueueLength(): number {
    let n = 0;
    for (const st of this.conns.values()) n += st.inFlight;
    return n;
  }

  clearQueueForHandler(handlerId: number): void {
    const st = this.conns.get(handlerId);
    if (st) st.closed = true;
    this.gate.cancel(handlerId, new Error("connection closed"));
  }

  /** The connection went away: end its turn (rolling back what it left open). */
  async clearTransactionIfNeeded(handlerId: number): Promise<void> {
    const st = this.conns.get(handlerId);
    if (!st) return;
    st.closed = true;
    await st.chain;
    this.clearIdle(st);
    this.conns.delete(handlerId);
    if (this.gate.current === handlerId) await this.endTurn(handlerId);
  }

  private state(handlerId: number): ConnState {
    let st = this.conns.get(handlerId);
    if (!st) {
      st = {
        chain: Promise.resolve(),
        inFlight: 0,
        lastActivity: Date.now(),
        evicted: false,
        closed: false,
        authed: this.password === undefined,
      };
      this.conns.set(handlerId, st);
    }
    return st;
  }

  private async process(
    handlerId: number,
    st: ConnState,
    message: Uint8Array,
    onData: (data: Uint8Array) => void,
  ): Promise<number> {
    if (st.evicted) throw new Error("connection evicted: it kept the database busy without sending anything");
    if (st.closed) throw new Error("connection closed");
    if (!st.authed) {
      const startup = this.authenticate(st, message, onData);
      if (!startup) return 0;
      message = startup; // authenticated: now PGlite answers the startup packet
    }
    const type = message[0] ?? 0;
    if (type === 0x58) {
      // Terminate: the client leaves; nothing to send to PGlite (which has no session to end).
      if (this.gate.current === handlerId) await this.endTurn(handlerId);
      return 0;
    }
    if (this.gate.current !== handlerId) await this.gate.acquire(handlerId);
    this.clearIdle(st);
    st.inFlight++;
    let bytes = 0;
    try {
      await this.db.runExclusive(() =>
        this.db.execProtocolRawStream(message, {
          onRawData: (data) => {
            bytes += data.length;
            onData(data);
          },
        }),
      );
    } catch (err) {
      st.inFlight--;
      await this.endTurn(handlerId);
      throw err;
    }
    st.inFlight--;
    if (TURN_END_TYPES.has(type) && !this.db.isInTransaction()) {
      this.gate.release(handlerId);
    } else {
      this.armIdle(handlerId, st);
    }
    return bytes;
  }

  /**
   * The password exchange, done here because PGlite accepts any startup: the startup packet is held
   * back and answered with AuthenticationCleartextPassword; a matching PasswordMessage releases it.
   * Returns the startup packet once the password matched.
   */
  private authenticate(
    st: ConnState,
    message: Uint8Array,
    onData: (data: Uint8Array) => void,
  ): Uint8Array | undefined {
    const type = message[0] ?? 0;
    if (type === 0 && !st.startup) {
      st.startup = message;
      onData(new Uint8Array([0x52, 0, 0, 0, 8, 0, 0, 0, 3])); // 'R', cleartext password
      return undefined;
    }
    if (type === 0x70 && st.startup) {
      const given = Buffer.from(message.subarray(5, Math.max(5, message.length - 1)));
      const want = Buffer.from(this.password ?? "", "utf8");
      if (given.length === want.length && timingSafeEqual(given, want)) {
        st.authed = true;
        return st.startup;
      }
    }
    onData(
      errorResponse("28P01", "password authentication failed (the password is in the store's lock file)"),
    );
    throw new Error("authentication failed");
  }

  /** Leaves the session clean for the next party (ends an extended-protocol round, rolls back), then hands it on. */
  private async endTurn(handlerId: number): Promise<void> {
    try {
      await this.db.runExclusive(async () => {
        await this.db.execProtocolRawStream(SYNC, { onRawData: () => {} });
        if (this.db.isInTransaction()) await this.db.execProtocolRawStream(ROLLBACK, { onRawData: () => {} });
      });
    } catch {
      // PGlite closed under us: nothing left to clean.
    } finally {
      this.gate.release(handlerId);
    }
  }

  private armIdle(handlerId: number, st: ConnState, delay = this.idleTurnMs): void {
    this.clearIdle(st);
    if (this.idleTurnMs <= 0) return;
    st.idleTimer = setTimeout(() => {
      st.idleTimer = undefined;
      // After a long synchronous stretch in this process, timers fire before pending socket data is
      // read: give I/O two turns of the event loop before deciding the client is idle.
      setImmediate(() =>
        setImmediate(() => {
          if (this.gate.current !== handlerId || st.inFlight > 0 || st.idleTimer || st.closed) return;
          const idle = Date.now() - st.lastActivity;
          if (idle < this.idleTurnMs) return this.armIdle(handlerId, st, this.idleTurnMs - idle);
          st.evicted = true;
          void this.endTurn(handlerId).then(() => this.evict(handlerId));
        }),
      );
    }, delay);
    st.idleTimer.unref();
  }

  private clearIdle(st: ConnState): void {
    if (st.idleTimer) clearTimeout(st.idleTimer);
    st.idleTimer = undefined;
  }
}

export interface ShareServerOptions {
  /** Loopback port (default 0: the OS picks a free one). */
  port?: number;
  /** Most client connections at once (default 64); one more is refused at the TCP level. */
  maxConnections?: number;
  /**
   * A connection that holds the session (inside a transaction or between Parse and Sync) without
   * sending anything for this long is disconnected and its transaction rolled back, so a stuck
   * client cannot stall the host (default 30 s; 0 disables).
   */
  idleTurnMs?: number;
  /**
   * Password clients must send (cleartext, on loopback). PGlite itself accepts anyone, so without
   * one any local user could connect; the store passes a random one kept in the 0600 lock file.
   */
  password?: string;
}

/** The loopback server of a hosted PGlite directory. */
export class ShareServer {
  private readonly server: Server;
  private readonly handlers = new Map<number, { handler: PGLiteSocketHandler; socket: Socket }>();
  private readonly queue: TurnQueue;
  private closed = false;
  port = 0;

  constructor(
    private readonly db: PGlite,
    readonly gate: SessionGate,
    private readonly options: ShareServerOptions = {},
  ) {
    this.queue = new TurnQueue(
      db,
      gate,
      options.idleTurnMs ?? 30_000,
      (id) => {
        void this.handlers.get(id)?.handler.detach(true);
      },
      options.password,
    );
    this.server = createServer((socket) => this.accept(socket));
    this.server.maxConnections = options.maxConnections ?? 64;
  }

  async start(): Promise<number> {
    await this.db.waitReady;
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.options.port ?? 0, "127.0.0.1", () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.server.on("error", () => {});
    // Serving others must not keep this process alive: it exits when its own work is done.
    this.server.unref();
    const addr = this.server.address();
    if (addr === null || typeof addr !== "object") throw new Error("pglite share server: no port");
    this.port = addr.port;
    return this.port;
  }

  get connections(): number {
    return this.handlers.size;
  }

  /** Stops listening and disconnects every client (rolling back what they left open). */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await Promise.all([...this.handlers.values()].map(({ handler }) => handler.detach(true).catch(() => {})));
    this.handlers.clear();
    await closing;
  }

  private accept(socket: Socket): void {
    socket.unref();
    if (this.closed) {
      socket.destroy();
      return;
    }
    const handler = new PGLiteSocketHandler({
      // Our queue has the methods the handler calls; the declared type is the package's own class.
      queryQueue: this.queue as unknown as ConstructorParameters<typeof PGLiteSocketHandler>[0]["queryQueue"],
      closeOnDetach: true,
    });
    const id = handler.handlerId;
    this.handlers.set(id, { handler, socket });
    const forget = () => this.handlers.delete(id);
    handler.addEventListener("close", forget);
    handler.addEventListener("error", forget);
    handler.attach(socket).catch(() => {
      forget();
      socket.destroy();
    });
  }
}
