/**
 * The user's key for a shared server (`hybridAssist.tcp`): read from an environment variable
 * or a file, never from the settings, and sent as `initializationOptions.hybridAssist.key`.
 * No `vscode` import.
 */

import { SECTION } from "./settings";

type Json = Record<string, unknown>;

export const DEFAULT_KEY_ENV = "HYBRID_ASSIST_KEY";

/** Expands a leading `~` to `home`. */
export function expandHome(path: string, home: string): string {
  return path === "~" || path.startsWith("~/") ? home + path.slice(1) : path;
}

/**
 * The key: `env[keyEnv]`, else the first line of `keyFile` (read with `readFile`); undefined when neither
 * has one. A file that cannot be read throws (the caller shows the error).
 */
export function readKey(
  env: Record<string, string | undefined>,
  keyEnv: string,
  keyFile: string,
  readFile: (path: string) => string,
  home: string,
): string | undefined {
  const fromEnv = keyEnv ? env[keyEnv]?.trim() : undefined;
  if (fromEnv) {
    return fromEnv;
  }
  if (keyFile.trim()) {
    const line = readFile(expandHome(keyFile.trim(), home)).split(/\r?\n/, 1)[0]?.trim();
    return line || undefined;
  }
  return undefined;
}

/** `initializationOptions` (`{hybridAssist: {...settings}}`) with `key` added to the section. */
export function withKey(options: Json, key: string | undefined): Json {
  if (key === undefined) {
    return options;
  }
  const section = options[SECTION];
  const settings = typeof section === "object" && section !== null && !Array.isArray(section) ? (section as Json) : {};
  return { ...options, [SECTION]: { ...settings, key } };
}
