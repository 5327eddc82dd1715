import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The checkout this file belongs to. */
export const repoRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
