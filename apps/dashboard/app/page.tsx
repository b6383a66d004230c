import { Suspense } from "react";
import { RunsTable } from "../src/client/RunsTable";

export default function RunsPage() {
  return (
    <Suspense fallback={<p className="muted">Loading runs…</p>}>
      <RunsTable />
    </Suspense>
  );
}
