"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { useEffect, useState } from "react";
import { useGql } from "./gql";

const NAV = [
  { href: "/", label: "Runs" },
  { href: "/compare", label: "Compare" },
  { href: "/leaderboard", label: "Leaderboard" },
  { href: "/sweeps", label: "Sweeps" },
  { href: "/methods", label: "Methods" },
];

type Theme = "light" | "dark";

function currentTheme(): Theme {
  const set = document.documentElement.dataset.theme;
  if (set === "light" || set === "dark") return set;
  return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme | null>(null);
  useEffect(() => setTheme(currentTheme()), []);
  const flip = () => {
    const next: Theme = currentTheme() === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try {
      localStorage.setItem("selfsup.theme", next);
    } catch {}
    setTheme(next);
    window.dispatchEvent(new Event("selfsup:theme"));
  };
  return (
    <button
      type="button"
      onClick={flip}
      aria-label={`Switch to ${theme === "dark" ? "light" : "dark"} theme`}
      title="Toggle theme"
    >
      {theme === "dark" ? "☀ Light" : "☾ Dark"}
    </button>
  );
}

const VIEWER = "query Viewer { viewer { role canMutate loginRequired } storeInfo { driver role hostPid } }";

export function Header() {
  const pathname = usePathname();
  const viewer = useGql<{
    viewer: { role: string; canMutate: boolean; loginRequired: boolean };
    storeInfo: { driver: string; role: string | null; hostPid: number | null };
  }>(VIEWER, undefined, {
    skip: pathname === "/login",
  });
  const v = viewer.data?.viewer;
  const s = viewer.data?.storeInfo;
  const storeNote = s
    ? s.driver === "pg"
      ? "PostgreSQL"
      : s.role === "client"
        ? `PGlite via pid ${s.hostPid}`
        : "PGlite"
    : null;
  return (
    <header className="site-header">
      <Link href="/" className="brand">
        selfsup
      </Link>
      <nav aria-label="Main">
        {NAV.map((n) => {
          const active =
            n.href === "/" ? pathname === "/" || pathname.startsWith("/runs") : pathname.startsWith(n.href);
          return (
            <Link key={n.href} href={n.href} aria-current={active ? "page" : undefined}>
              {n.label}
            </Link>
          );
        })}
      </nav>
      <span className="spacer" />
      {storeNote && (
        <span
          className="who"
          title={
            s?.role === "client"
              ? "Another selfsup process holds the embedded store; the dashboard reads through it"
              : undefined
          }
        >
          {storeNote}
        </span>
      )}
      {v && (
        <span className="who" title={v.canMutate ? "You may change runs" : "Read-only"}>
          {v.role === "WRITE" ? "team token" : v.role === "READ" ? "read-only token" : "local, no login"}
          {v.canMutate || v.role === "READ" ? "" : " · read-only"}
        </span>
      )}
      {v && v.role !== "ANONYMOUS" && (
        <form action="/api/logout" method="post">
          <button type="submit" className="link">
            Log out
          </button>
        </form>
      )}
      <ThemeToggle />
    </header>
  );
}
