/**
 * Gatekeeper for pages and API routes (Next 16's proxy, Node.js runtime). Reading is open on
 * loopback; elsewhere a request needs the session cookie or a bearer token (src/server/auth.ts).
 * Pages without one are sent to /login, API calls get 401 with a JSON explanation. The login page
 * and Next's static assets pass through.
 */
import { type NextRequest, NextResponse } from "next/server";
import { authConfigFromEnv, authenticate, SESSION_COOKIE } from "./src/server/auth";

const PUBLIC = new Set(["/login", "/api/login", "/api/logout", "/favicon.ico", "/icon.svg"]);

export function proxy(request: NextRequest) {
  const { pathname, search } = request.nextUrl;
  // A path that is not valid percent-encoded UTF-8 (`/api/artifacts/x/y/%c0%ae`) would fail inside
  // Next's router with a bare 500: refuse it here, saying why.
  try {
    decodeURIComponent(pathname);
  } catch {
    return NextResponse.json(
      { error: `the path ${JSON.stringify(pathname.slice(0, 200))} is not valid percent-encoded UTF-8` },
      { status: 400 },
    );
  }
  if (PUBLIC.has(pathname)) return NextResponse.next();
  const result = authenticate(
    {
      authorization: request.headers.get("authorization"),
      session: request.cookies.get(SESSION_COOKIE)?.value ?? null,
    },
    authConfigFromEnv(),
  );
  if (result.ok) return NextResponse.next();
  if (pathname.startsWith("/api/")) {
    return NextResponse.json(
      { errors: [{ message: result.message, extensions: { code: "UNAUTHENTICATED" } }] },
      { status: 401, headers: { "www-authenticate": 'Bearer realm="selfsup"' } },
    );
  }
  const login = new URL("/login", request.url);
  login.searchParams.set("next", pathname + search);
  if (result.reason === "invalid") login.searchParams.set("error", "invalid");
  return NextResponse.redirect(login);
}

export const config = {
  matcher: ["/((?!_next/static|_next/image).*)"],
};
