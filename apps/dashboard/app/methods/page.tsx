import type { Metadata } from "next";
import { MethodsView } from "../../src/client/MethodsView";

export const metadata: Metadata = { title: "Methods" };

export default function MethodsPage() {
  return <MethodsView />;
}
