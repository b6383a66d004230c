import type { Metadata } from "next";
import { Suspense } from "react";
import { LeaderboardView } from "../../src/client/LeaderboardView";

export const metadata: Metadata = { title: "Leaderboard" };

export default function LeaderboardPage() {
  return (
    <Suspense fallback={<p className="muted">Loading…</p>}>
      <LeaderboardView />
    </Suspense>
  );
}
