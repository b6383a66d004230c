/**
 * Who may do what. Pure functions of the request's credentials and the environment, shared by
 * the proxy (pages and API), the GraphQL context and the artifact route.
 *
 * - Reading is open when the server is bound to loopback (HOST is 127.0.0.1, localhost or ::1)
 *   and SELFSUP_AUTH is not `required`; otherwise it needs a login with the team token
 *   (SELFSUP_TOKEN) or the read-only token (SELFSUP_READ_TOKEN). An unset HOST counts as "not
 *   loopback": `next start` binds every interface by default.
 * - Mutations always need the team token, as `Authorization: Bearer <token>` or the session
 *   cookie that /api/login sets after checking it.
 *
 * Tokens are compared in constant time (SHA-256 of both sides, then timingSafeEqual, so neither
 * the content nor the length leaks through timing). The cookie never holds a token: it is
 * `<role>.<HMAC-SHA256(token, label)>`, so it proves knowledge of the token, and changing the token
 * logs everybody out.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { Role } from "./enums";

export const SESSION_COOKIE = "selfsup_session";
/** 30 days. */
export const SESSION_MAX_AGE_S = 30 * 24 * 3600;
const SESSION_LABEL = "selfsup-dashboard-session:v1:";

export interface AuthConfig {
  /** True when reading needs a login (bound off loopback, or SELFSUP_AUTH=required). */
  loginRequired: boolean;
  /** SELFSUP_TOKEN: may read and mutate. */
  teamToken: string | null;
  /** SELFSUP_READ_TOKEN: may read. */
  readToken: string | null;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

export function isLoopbackHost(host: string | undefined | null): boolean {
  if (!host) return false;
  const h = host.trim().toLowerCase();
  return LOOPBACK.has(h) || /^127(\.\d{1,3}){3}$/.test(h);
}

export function authConfigFromEnv(env: Record<string, string | undefined> = process.env): AuthConfig {
  const mode = (env.SELFSUP_AUTH ?? "auto").trim().toLowerCase();
  const token = (v: string | undefined) => (v && v.length > 0 ? v : null);
  return {
    loginRequired: mode === "required" || !isLoopbackHost(env.HOST),
    teamToken: token(env.SELFSUP_TOKEN),
    readToken: token(env.SELFSUP_READ_TOKEN),
  };
}

/** Constant-time string equality (hashing first makes the lengths equal). */
export function tokensEqual(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given, "utf8").digest();
  const b = createHash("sha256").update(expected, "utf8").digest();
  return timingSafeEqual(a, b);
}

/** The role a presented token grants, or null. Both tokens are always checked (no early exit). */
export function roleForToken(token: string, cfg: AuthConfig): "read" | "write" | null {
  const isTeam = cfg.teamToken !== null && tokensEqual(token, cfg.teamToken);
  const isRead = cfg.readToken !== null && tokensEqual(token, cfg.readToken);
  return isTeam ? "write" : isRead ? "read" : null;
}

function sessionMac(token: string, role: "read" | "write"): string {
  return createHmac("sha256", token)
    .update(SESSION_LABEL + role)
    .digest("base64url");
}

/** The cookie value for a login with `token` (which must be one of the configured tokens). */
export function sessionCookieValue(token: string, role: "read" | "write"): string {
  return `${role}.${sessionMac(token, role)}`;
}

export function roleForSession(value: string, cfg: AuthConfig): "read" | "write" | null {
  const dot = value.indexOf(".");
  if (dot < 0) return null;
  const role = value.slice(0, dot);
  const mac = value.slice(dot + 1);
  if (role === "write" && cfg.teamToken !== null)
    return tokensEqual(mac, sessionMac(cfg.teamToken, "write")) ? "write" : null;
  if (role === "read" && cfg.readToken !== null)
    return tokensEqual(mac, sessionMac(cfg.readToken, "read")) ? "read" : null;
  return null;
}

export interface Credentials {
  /** The Authorization header, if any. */
  authorization?: string | null;
  /** The session cookie's value, if any. */
  session?: string | null;
}

export type AuthResult =
  | { ok: true; role: Role }
  /** `invalid`: credentials were presented and are wrong; `missing`: a login is required. */
  | { ok: false; reason: "invalid" | "missing"; message: string };

/**
 * Decides a request's role. A bearer token wins over the cookie; a wrong bearer token is refused
 * even on loopback (a script with a typo should hear about it), a stale cookie is ignored.
 */
export function authenticate(creds: Credentials, cfg: AuthConfig): AuthResult {
  const header = creds.authorization?.trim();
  if (header) {
    const m = /^Bearer\s+(.+)$/i.exec(header);
    const role = m ? roleForToken(m[1].trim(), cfg) : null;
    if (!role) {
      return {
        ok: false,
        reason: "invalid",
        message:
          "the Authorization header holds no valid token (expected: Bearer <SELFSUP_TOKEN or SELFSUP_READ_TOKEN>)",
      };
    }
    return { ok: true, role };
  }
  const fromCookie = creds.session ? roleForSession(creds.session, cfg) : null;
  if (fromCookie) return { ok: true, role: fromCookie };
  if (!cfg.loginRequired) return { ok: true, role: "anonymous" };
  return {
    ok: false,
    reason: "missing",
    message:
      cfg.teamToken === null && cfg.readToken === null
        ? "this dashboard requires a login, but neither SELFSUP_TOKEN nor SELFSUP_READ_TOKEN is set on the server"
        : "log in at /login, or send Authorization: Bearer <token>",
  };
}

/** Why a role may not mutate, or null when it may. */
export function mutationRefusal(
  role: Role,
  cfg: AuthConfig,
): { code: "UNAUTHENTICATED" | "FORBIDDEN"; message: string } | null {
  if (role === "write") return null;
  if (cfg.teamToken === null) {
    return {
      code: "FORBIDDEN",
      message: "mutations are disabled: start the dashboard with SELFSUP_TOKEN set (the team token)",
    };
  }
  if (role === "read") {
    return {
      code: "FORBIDDEN",
      message: "the read-only token cannot change runs; log in with the team token (SELFSUP_TOKEN)",
    };
  }
  return {
    code: "UNAUTHENTICATED",
    message: "mutations need the team token: send Authorization: Bearer <SELFSUP_TOKEN> or log in at /login",
  };
}

/** Reads one cookie from a Cookie header. */
export function cookieFromHeader(header: string | null | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** A same-site path to return to after login (refuses absolute and protocol-relative URLs). */
export function safeNextPath(next: string | null | undefined): string {
  if (!next?.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  return next;
}
