import {
  authConfigFromEnv,
  authenticate,
  cookieFromHeader,
  SESSION_COOKIE,
} from "../../../../../../src/server/auth";
import { getStore, noteStoreError } from "../../../../../../src/server/store";

export const dynamic = "force-dynamic";

/** Serves an artifact's bytes (augmentation previews, reconstructions) or its JSON payload. */
export async function GET(
  request: Request,
  ctx: { params: Promise<{ runId: string; kind: string; name: string }> },
): Promise<Response> {
  const result = authenticate(
    {
      authorization: request.headers.get("authorization"),
      session: cookieFromHeader(request.headers.get("cookie"), SESSION_COOKIE),
    },
    authConfigFromEnv(),
  );
  if (!result.ok) return Response.json({ error: result.message }, { status: 401 });
  // The path's own segments, decoded here: a segment that is not valid percent-encoded UTF-8
  // (`%c0%ae`) is refused by name instead of failing inside the router or the database.
  const raw = new URL(request.url).pathname.split("/").slice(-3);
  const decoded: string[] = [];
  for (const [i, seg] of raw.entries()) {
    try {
      decoded.push(decodeURIComponent(seg));
    } catch {
      const field = ["runId", "kind", "name"][i];
      return Response.json(
        { error: `artifact ${field}: ${JSON.stringify(seg)} is not valid percent-encoded UTF-8` },
        { status: 400 },
      );
    }
  }
  const params = await ctx.params.catch(() => null);
  const [runId = params?.runId ?? "", kind = params?.kind ?? "", name = params?.name ?? ""] = decoded;
  let artifact: Awaited<ReturnType<Awaited<ReturnType<typeof getStore>>["getArtifact"]>>;
  try {
    artifact = await (await getStore()).getArtifact(runId, kind, name);
  } catch (err) {
    const e = err as Error & { code?: string };
    noteStoreError(e);
    if (e.name === "StoreError") return Response.json({ error: e.message }, { status: 400 });
    return Response.json({ error: e.message }, { status: 503 });
  }
  if (!artifact)
    return Response.json({ error: `run ${runId} has no artifact ${kind}/${name}` }, { status: 404 });
  const headers = {
    "cache-control": "private, max-age=60",
    "x-content-type-options": "nosniff",
    // Artifacts are data, never pages: no scripts even if someone stored HTML or SVG.
    "content-security-policy":
      "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'",
  };
  if (artifact.bytes) {
    return new Response(Buffer.from(artifact.bytes), {
      headers: { ...headers, "content-type": artifact.mime },
    });
  }
  return Response.json(artifact.data, { headers });
}
