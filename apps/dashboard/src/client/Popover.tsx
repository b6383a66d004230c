"use client";
/**
 * A <details> dropdown that closes on Escape (focus back on its summary) and on a click outside,
 * as menus do. Native <details> gives keyboard opening and state for free.
 */
import { type ReactNode, useEffect, useRef } from "react";

export function Popover({
  label,
  children,
  align = "right",
}: {
  label: ReactNode;
  children: ReactNode;
  align?: "left" | "right";
}) {
  const ref = useRef<HTMLDetailsElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const onDown = (e: MouseEvent) => {
      if (el.open && !el.contains(e.target as Node)) el.open = false;
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && el.open) {
        el.open = false;
        el.querySelector("summary")?.focus();
      }
    };
    document.addEventListener("mousedown", onDown);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("mousedown", onDown);
      document.removeEventListener("keydown", onKey);
    };
  }, []);
  return (
    <details className="popover" ref={ref}>
      <summary>{label}</summary>
      <div className="popover-body" style={align === "left" ? { left: 0, right: "auto" } : undefined}>
        {children}
      </div>
    </details>
  );
}
