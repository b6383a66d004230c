import {
  attachment,
  formatOf,
  refuseUnauthenticated,
  seriesStream,
  storeOr503,
} from "../../../../../../src/server/export";

export const dynamic = "force-dynamic";

/** One series of a run as stored (`key`, every point, streamed): CSV step,wall_time,value or JSON. */
export async function GET(request: Request, ctx: { params: Promise<{ id: string }> }): Promise<Response> {
  const refused = refuseUnauthenticated(request);
  if (refused) return refused;
  const params = new URL(request.url).searchParams;
  const format = formatOf(params);
  if (format instanceof Response) return format;
  const key = params.get("key");
  if (!key) return Response.json({ error: "key: required (the metric key to export)" }, { status: 400 });
  const { id } = await ctx.params;
  const store = await storeOr503();
  if (store instanceof Response) return store;
  try {
    // Validate id and key (a StoreError names the bad one) and 404 an unknown run before streaming.
    await store.readPoints(id, key, { limit: 1 });
    if (!(await store.getRun(id))) return Response.json({ error: `run ${id} not found` }, { status: 404 });
  } catch (err) {
    const e = err as Error;
    return Response.json({ error: e.message }, { status: e.name === "StoreError" ? 400 : 500 });
  }
  return new Response(seriesStream(store, id, key, format), { headers: attachment(`${id}-${key}`, format) });
}
