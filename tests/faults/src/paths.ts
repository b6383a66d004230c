import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const CLI = path.join(REPO_ROOT, "apps", "runner", "dist", "cli.js");
export const DASHBOARD_DIR = path.join(REPO_ROOT, "apps", "dashboard");
