import {
  authConfigFromEnv,
  roleForToken,
  SESSION_COOKIE,
  SESSION_MAX_AGE_S,
  safeNextPath,
  sessionCookieValue,
} from "../../../src/server/auth";

export const dynamic = "force-dynamic";

function isHttps(request: Request): boolean {
  return new URL(request.url).protocol === "https:" || request.headers.get("x-forwarded-proto") === "https";
}

/**
 * Checks a token (form field or JSON `token`) and sets the session cookie: HttpOnly, SameSite=Lax,
 * Secure over HTTPS. It holds an HMAC made with the token, never the token itself.
 */
export async function POST(request: Request): Promise<Response> {
  let token = "";
  let next = "/";
  const type = request.headers.get("content-type") ?? "";
  if (type.includes("application/json")) {
    const body = (await request.json().catch(() => ({}))) as { token?: unknown; next?: unknown };
    token = typeof body.token === "string" ? body.token : "";
    next = typeof body.next === "string" ? body.next : "/";
  } else {
    const form = await request.formData().catch(() => null);
    token = String(form?.get("token") ?? "");
    next = String(form?.get("next") ?? "/");
  }
  next = safeNextPath(next);
  const role = token ? roleForToken(token.trim(), authConfigFromEnv()) : null;
  const wantsJson = type.includes("application/json");
  if (!role) {
    if (wantsJson)
      return Response.json(
        { ok: false, error: "that token is neither the team token nor the read-only token" },
        { status: 401 },
      );
    const back = `/login?error=invalid&next=${encodeURIComponent(next)}`;
    return new Response(null, { status: 303, headers: { location: back } });
  }
  const cookie = [
    `${SESSION_COOKIE}=${encodeURIComponent(sessionCookieValue(token.trim(), role))}`,
    "Path=/",
    "HttpOnly",
    "SameSite=Lax",
    `Max-Age=${SESSION_MAX_AGE_S}`,
    ...(isHttps(request) ? ["Secure"] : []),
  ].join("; ");
  if (wantsJson) return Response.json({ ok: true, role }, { headers: { "set-cookie": cookie } });
  return new Response(null, { status: 303, headers: { location: next, "set-cookie": cookie } });
}
