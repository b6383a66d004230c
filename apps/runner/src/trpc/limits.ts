/**
 * Most calls in one batched request (`/trpc/a,b,c?batch=1`). Without a bound, one GET of 300
 * `list` calls with `first: 500` made a 154 MB reply; with it a reply holds at most this many
 * pages (each at most 500 runs). The server refuses larger batches with 400; the runner's client
 * (client.ts) splits its batches to fit.
 */
export const MAX_BATCH_SIZE = 10;
