import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { CLIENT_SETTINGS, generateConfiguration, generateProperties, serverKeys, toServerSettings } from "../../src/core/settings";

const schema = {
  $defs: {
    CompletionSettings: {
      additionalProperties: false,
      type: "object",
      properties: {
        debounce_ms: { type: "integer", default: 75, minimum: 0, description: "Wait before a request." },
        enabled: { type: "boolean", default: true, title: "Enabled" },
      },
    },
    ProviderSettings: {
      type: "object",
      additionalProperties: false,
      properties: { enabled: { type: "boolean", default: true } },
    },
  },
  type: "object",
  properties: {
    completion: { $ref: "#/$defs/CompletionSettings" },
    providers: { type: "object", additionalProperties: { $ref: "#/$defs/ProviderSettings" }, default: {} },
    team: { type: "string", default: "default", description: "Team." },
    mode: { enum: ["a", "b"], default: "a" },
  },
};

test("sections are expanded, maps inlined, client settings kept", () => {
  const props = generateProperties(schema);
  assert.deepEqual(Object.keys(props), [
    ...Object.keys(CLIENT_SETTINGS),
    "hybridAssist.completion.debounce_ms",
    "hybridAssist.completion.enabled",
    "hybridAssist.mode",
    "hybridAssist.providers",
    "hybridAssist.team",
  ]);
  assert.deepEqual(props["hybridAssist.completion.debounce_ms"], {
    type: "integer",
    default: 75,
    minimum: 0,
    markdownDescription: "Wait before a request.",
    order: 10,
  });
  assert.equal(props["hybridAssist.completion.enabled"].markdownDescription, "Enabled");
  assert.deepEqual(props["hybridAssist.providers"].additionalProperties, {
    additionalProperties: false,
    properties: { enabled: { default: true, type: "boolean" } },
    type: "object",
  });
  assert.deepEqual(props["hybridAssist.mode"].enum, ["a", "b"]);
  assert.equal(generateConfiguration(schema).type, "object");
  assert.throws(() => generateProperties({}), /not a settings schema/);
  assert.throws(() => generateProperties({ properties: { x: { $ref: "#/$defs/Missing" } } }), /unresolved/);
});

test("generation is deterministic on the committed server schema", () => {
  const committed = JSON.parse(readFileSync(join(__dirname, "..", "..", "..", "schema.json"), "utf8"));
  const a = JSON.stringify(generateConfiguration(committed));
  const b = JSON.stringify(generateConfiguration(JSON.parse(JSON.stringify(committed))));
  assert.equal(a, b);
  const props = generateProperties(committed);
  assert.ok(props["hybridAssist.completion.debounce_ms"], "completion.debounce_ms is a setting");
  assert.ok(props["hybridAssist.local.backend"], "local.backend is a setting");
  for (const [key, value] of Object.entries(props)) {
    assert.ok(!JSON.stringify(value).includes("$ref"), `${key} has an unresolved $ref`);
  }
});

test("user settings are nested for the server, client keys left out", () => {
  assert.deepEqual(
    toServerSettings([
      ["completion.debounce_ms", 0],
      ["completion.enabled", false],
      ["team", "core"],
      ["serverPath", "/x"],
      ["tcp", "h:1"],
      ["trace.server", "verbose"],
      ["local.backend", undefined],
    ]),
    { hybridAssist: { completion: { debounce_ms: 0, enabled: false }, team: "core" } },
  );
  assert.deepEqual(serverKeys(generateProperties(schema)), [
    "completion.debounce_ms",
    "completion.enabled",
    "mode",
    "providers",
    "team",
  ]);
});
