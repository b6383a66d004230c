import type { Metadata } from "next";
import { SweepView } from "../../../src/client/SweepView";

export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  const { id } = await params;
  return { title: `Sweep ${decodeURIComponent(id)}` };
}

export default async function SweepPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <SweepView id={decodeURIComponent(id)} />;
}
