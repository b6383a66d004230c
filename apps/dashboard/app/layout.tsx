import type { Metadata, Viewport } from "next";
import type { ReactNode } from "react";
import "uplot/dist/uPlot.min.css";
import "./globals.css";
import { Header } from "../src/client/Header";

export const metadata: Metadata = {
  title: { default: "selfsup dashboard", template: "%s · selfsup" },
  description: "Runs, curves, comparisons and leaderboards of self-supervised training",
};

export const viewport: Viewport = {
  themeColor: [
    { media: "(prefers-color-scheme: light)", color: "#f5f6f8" },
    { media: "(prefers-color-scheme: dark)", color: "#161a20" },
  ],
};

// Applies the saved theme before the first paint (no flash of the wrong theme).
const THEME_SCRIPT = `try{var t=localStorage.getItem("selfsup.theme");if(t==="light"||t==="dark")document.documentElement.dataset.theme=t}catch(e){}`;

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en" suppressHydrationWarning>
      <head>
        {/* biome-ignore lint/security/noDangerouslySetInnerHtml: a constant, needed before hydration */}
        <script dangerouslySetInnerHTML={{ __html: THEME_SCRIPT }} />
      </head>
      <body>
        <a className="skip-link" href="#content">
          Skip to content
        </a>
        <Header />
        <main id="content">{children}</main>
      </body>
    </html>
  );
}
