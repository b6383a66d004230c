import type { Metadata } from "next";
import { Suspense } from "react";
import { SweepsList } from "../../src/client/SweepView";

export const metadata: Metadata = { title: "Sweeps" };

export default function SweepsPage() {
  return (
    <Suspense fallback={<p className="muted">Loading…</p>}>
      <SweepsList />
    </Suspense>
  );
}
