/**
 * Headers every page and API reply carries (artifacts set their own, stricter policy). Shared by
 * next.config.mjs (replies Next serves) and the GraphQL fast path (src/server/graphql-http.ts),
 * which answers POST /api/graphql without going through Next.
 */
export const SECURITY_HEADERS = [
  { key: "X-Content-Type-Options", value: "nosniff" },
  { key: "Referrer-Policy", value: "same-origin" },
  { key: "X-Frame-Options", value: "DENY" },
  { key: "Content-Security-Policy", value: "frame-ancestors 'none'" },
];
