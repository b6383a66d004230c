import Link from "next/link";

export default function NotFound() {
  return (
    <div className="notice">
      Nothing here. <Link href="/">Back to the runs</Link>
    </div>
  );
}
