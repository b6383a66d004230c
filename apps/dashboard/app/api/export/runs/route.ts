import {
  attachment,
  collectRuns,
  formatOf,
  refuseUnauthenticated,
  runsCsv,
  runsQueryOf,
  storeOr503,
} from "../../../../src/server/export";

export const dynamic = "force-dynamic";

/**
 * The runs table as filtered and sorted (the runs page's URL parameters: q, method, family,
 * dataset, backbone, tag, status, from, to, sort, dir), as CSV (default) or JSON (`format=json`),
 * at most 100,000 runs (header x-selfsup-truncated says when there were more).
 */
export async function GET(request: Request): Promise<Response> {
  const refused = refuseUnauthenticated(request);
  if (refused) return refused;
  const params = new URL(request.url).searchParams;
  const format = formatOf(params);
  if (format instanceof Response) return format;
  const store = await storeOr503();
  if (store instanceof Response) return store;
  try {
    const { runs, truncated } = await collectRuns(store, runsQueryOf(params));
    const headers = { ...attachment("runs", format), "x-selfsup-truncated": String(truncated) };
    return new Response(format === "csv" ? runsCsv(runs) : JSON.stringify(runs), { headers });
  } catch (err) {
    const e = err as Error;
    return Response.json({ error: e.message }, { status: e.name === "StoreError" ? 400 : 500 });
  }
}
