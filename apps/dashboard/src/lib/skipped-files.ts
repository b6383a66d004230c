/**
 * The run's `skipped-files.json` artifact (written by the runner when a dataset with `skipBad` left
 * bad files out): `[{ file, reason }, ...]`. Read defensively: it is stored JSON, so anything not
 * shaped like that is left out, and long names or reasons are cut.
 */

/** The artifact's name (kind "data"), as apps/runner/src/run/dataset.ts stores it. */
export const SKIPPED_FILES_ARTIFACT = "skipped-files.json";

/** Characters kept of a file name or a reason. */
const MAX_TEXT = 500;

const clip = (s: string) => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT - 1)}…` : s);

/** The first `first` well-formed entries and how many entries there are in all. */
export function parseSkippedFiles(
  data: unknown,
  first: number,
): { total: number; files: Array<{ file: string; reason: string }> } {
  if (!Array.isArray(data)) return { total: 0, files: [] };
  const files: Array<{ file: string; reason: string }> = [];
  for (const e of data) {
    if (files.length >= first) break;
    if (e === null || typeof e !== "object") continue;
    const { file, reason } = e as { file?: unknown; reason?: unknown };
    if (typeof file !== "string") continue;
    files.push({ file: clip(file), reason: clip(typeof reason === "string" ? reason : "") });
  }
  return { total: data.length, files };
}
