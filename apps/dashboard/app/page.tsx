import { headers } from "next/headers";
import { Suspense } from "react";
import { RunsTable } from "../src/client/RunsTable";
import { initialRunsPage } from "../src/server/ssr";

// Rendered per request: the first page of runs is in the HTML (painted before any script runs).
export const dynamic = "force-dynamic";

export default async function RunsPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const initial = await initialRunsPage(await searchParams, await headers());
  return (
    <Suspense fallback={<p className="muted">Loading runs…</p>}>
      <RunsTable initial={initial} />
    </Suspense>
  );
}
