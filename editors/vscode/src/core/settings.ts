/**
 * `contributes.configuration` generated from the server's settings JSON schema
 * (`hybrid-assist config schema`), and the editor settings sent back to the server.
 * No `vscode` import: used by scripts/gen-settings.mjs and the unit tests.
 */

export const SECTION = "hybridAssist";

type Json = Record<string, unknown>;

/** Settings of the extension itself, not of the server. */
export const CLIENT_SETTINGS: Record<string, Json> = {
  [`${SECTION}.serverPath`]: {
    type: "string",
    default: "hybrid-assist",
    description: "Path of the hybrid-assist executable, started as `hybrid-assist lsp` (stdio).",
    order: 0,
  },
  [`${SECTION}.tcp`]: {
    type: "string",
    default: "",
    description:
      "Connect to a running `hybrid-assist lsp --tcp HOST:PORT` server at \"host:port\" instead of starting one.",
    order: 1,
  },
  [`${SECTION}.keyEnv`]: {
    type: "string",
    default: "HYBRID_ASSIST_KEY",
    description:
      "Environment variable holding your key for the shared server of `hybridAssist.tcp` (never put the key in settings).",
    order: 2,
  },
  [`${SECTION}.keyFile`]: {
    type: "string",
    default: "",
    description:
      "File whose first line is your key for the shared server of `hybridAssist.tcp`, read when the environment variable is unset (e.g. `~/.config/hybrid-assist/key`).",
    order: 3,
  },
  [`${SECTION}.trace.server`]: {
    type: "string",
    enum: ["off", "messages", "verbose"],
    default: "off",
    description: "Trace the communication between VS Code and the hybrid-assist language server.",
    order: 4,
  },
};

/** Keys (relative to the section) that are never sent to the server. */
export const CLIENT_KEYS = new Set(["serverPath", "tcp", "keyEnv", "keyFile", "trace"]);

const LEAF_KEYWORDS = [
  "type",
  "enum",
  "default",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "minLength",
  "maxLength",
  "pattern",
  "items",
  "additionalProperties",
  "anyOf",
];

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function resolve(schema: Json, node: Json, seen: Set<string> = new Set()): Json {
  const ref = node.$ref;
  if (typeof ref !== "string") {
    return node;
  }
  const prefix = "#/$defs/";
  if (!ref.startsWith(prefix) || seen.has(ref)) {
    throw new Error(`unsupported $ref ${ref}`);
  }
  const defs = isObject(schema.$defs) ? schema.$defs : {};
  const target = defs[ref.slice(prefix.length)];
  if (!isObject(target)) {
    throw new Error(`unresolved $ref ${ref}`);
  }
  const { $ref: _ignored, ...rest } = node;
  void _ignored;
  return { ...resolve(schema, target, new Set([...seen, ref])), ...rest };
}

/** A JSON value with every nested `$ref` replaced by its definition (for item/map schemas). */
function inline(schema: Json, value: unknown, depth = 0): unknown {
  if (depth > 8) {
    return {};
  }
  if (Array.isArray(value)) {
    return value.map((v) => inline(schema, v, depth + 1));
  }
  if (!isObject(value)) {
    return value;
  }
  const node = resolve(schema, value);
  const out: Json = {};
  for (const key of Object.keys(node).sort()) {
    if (key === "title" || key === "$defs") {
      continue;
    }
    out[key] = inline(schema, node[key], depth + 1);
  }
  return out;
}

function leaf(schema: Json, node: Json, order: number): Json {
  const out: Json = {};
  for (const key of LEAF_KEYWORDS) {
    if (key in node) {
      out[key] = key === "items" || key === "additionalProperties" || key === "anyOf" ? inline(schema, node[key]) : node[key];
    }
  }
  if (!("type" in out) && !("anyOf" in out) && !("enum" in out)) {
    out.type = ["string", "number", "integer", "boolean", "array", "object", "null"];
  }
  const description = typeof node.description === "string" ? node.description : typeof node.title === "string" ? node.title : "";
  if (description) {
    out.markdownDescription = description;
  }
  out.order = order;
  return out;
}

function isSection(node: Json): boolean {
  return node.type === "object" && isObject(node.properties) && node.additionalProperties === false;
}

/**
 * The `properties` of `contributes.configuration`: one `hybridAssist.<section>.<key>`
 * setting for each leaf of the server schema (objects with fixed properties are expanded,
 * maps and arrays stay one setting), plus the client's own settings.
 */
export function generateProperties(schema: unknown): Record<string, Json> {
  if (!isObject(schema) || !isObject(schema.properties)) {
    throw new Error("not a settings schema: no top-level properties");
  }
  const root = schema;
  const properties: Record<string, Json> = {};
  let order = 10;
  const walk = (prefix: string, node: Json, depth: number): void => {
    const resolved = resolve(root, node);
    if (depth > 0 && depth < 4 && isSection(resolved)) {
      const children = resolved.properties as Json;
      for (const key of Object.keys(children).sort()) {
        walk(`${prefix}.${key}`, children[key] as Json, depth + 1);
      }
      return;
    }
    properties[prefix] = leaf(root, resolved, order++);
  };
  const top = root.properties as Json;
  for (const key of Object.keys(top).sort()) {
    walk(`${SECTION}.${key}`, top[key] as Json, 1);
  }
  return { ...CLIENT_SETTINGS, ...properties };
}

/** The whole `contributes.configuration` object. */
export function generateConfiguration(schema: unknown): Json {
  return {
    type: "object",
    title: "hybrid-assist",
    properties: generateProperties(schema),
  };
}

/**
 * Settings the user set (flat keys relative to the section, e.g. `completion.debounce_ms`)
 * as the nested object the server reads from `initializationOptions` /
 * `workspace/didChangeConfiguration` (`{hybridAssist: {...}}`). Client keys are left out.
 */
export function toServerSettings(entries: Iterable<[string, unknown]>): Json {
  const out: Json = {};
  for (const [key, value] of entries) {
    const path = key.split(".");
    if (CLIENT_KEYS.has(path[0]) || value === undefined) {
      continue;
    }
    let node = out;
    for (const part of path.slice(0, -1)) {
      if (!isObject(node[part])) {
        node[part] = {};
      }
      node = node[part] as Json;
    }
    node[path[path.length - 1]] = value;
  }
  return { [SECTION]: out };
}

/** Keys (relative to the section) of the generated server settings, for reading user values. */
export function serverKeys(properties: Record<string, unknown>): string[] {
  const prefix = `${SECTION}.`;
  return Object.keys(properties)
    .filter((k) => k.startsWith(prefix))
    .map((k) => k.slice(prefix.length))
    .filter((k) => !CLIENT_KEYS.has(k.split(".")[0]));
}
