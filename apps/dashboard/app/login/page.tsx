import type { Metadata } from "next";
import { authConfigFromEnv, safeNextPath } from "../../src/server/auth";

export const metadata: Metadata = { title: "Log in" };
export const dynamic = "force-dynamic";

/** Token login: posts to /api/login, which sets the session cookie and sends you back. */
export default async function LoginPage({
  searchParams,
}: {
  searchParams: Promise<{ next?: string; error?: string }>;
}) {
  const sp = await searchParams;
  const next = safeNextPath(sp.next);
  const cfg = authConfigFromEnv();
  const noTokens = cfg.teamToken === null && cfg.readToken === null;
  return (
    <div className="login">
      <h1>Log in to the dashboard</h1>
      <p className="muted">
        Paste the team token (<span className="mono">SELFSUP_TOKEN</span>) to read and change runs, or the
        read-only token (<span className="mono">SELFSUP_READ_TOKEN</span>) to read.
      </p>
      {sp.error && (
        <div className="error-box" role="alert">
          That token is not valid here.
        </div>
      )}
      {noTokens && cfg.loginRequired && (
        <div className="error-box" role="alert">
          This server requires a login but has no tokens configured: restart it with SELFSUP_TOKEN (and
          optionally SELFSUP_READ_TOKEN) set.
        </div>
      )}
      <form action="/api/login" method="post">
        <input type="hidden" name="next" value={next} />
        <label htmlFor="token">Token</label>
        <input id="token" name="token" type="password" autoComplete="current-password" required />
        <button type="submit" className="primary">
          Log in
        </button>
      </form>
    </div>
  );
}
