import assert from "node:assert/strict";
import { test } from "node:test";

import { expandHome, readKey, withKey } from "../../src/core/key";
import { CLIENT_KEYS, toServerSettings } from "../../src/core/settings";

const files: Record<string, string> = { "/home/me/.config/hybrid-assist/key": "ha_0123456789ab_secret\n" };
const read = (path: string): string => {
  if (!(path in files)) {
    throw new Error(`ENOENT: ${path}`);
  }
  return files[path];
};

test("the key comes from the environment, else from the file", () => {
  const file = "~/.config/hybrid-assist/key";
  assert.equal(readKey({ HYBRID_ASSIST_KEY: " ha_env \n" }, "HYBRID_ASSIST_KEY", file, read, "/home/me"), "ha_env");
  assert.equal(readKey({}, "HYBRID_ASSIST_KEY", file, read, "/home/me"), "ha_0123456789ab_secret");
  assert.equal(readKey({ HYBRID_ASSIST_KEY: "" }, "HYBRID_ASSIST_KEY", "", read, "/home/me"), undefined);
  assert.throws(() => readKey({}, "HYBRID_ASSIST_KEY", "/missing", read, "/home/me"), /ENOENT/);
  assert.equal(expandHome("~/k", "/h"), "/h/k");
  assert.equal(expandHome("/abs/~/k", "/h"), "/abs/~/k");
});

test("the key joins the server settings in initializationOptions", () => {
  const settings = toServerSettings([["completion.debounce_ms", 10]]);
  assert.deepEqual(withKey(settings, "ha_k"), { hybridAssist: { completion: { debounce_ms: 10 }, key: "ha_k" } });
  assert.deepEqual(withKey(settings, undefined), settings);
  assert.deepEqual(withKey({}, "ha_k"), { hybridAssist: { key: "ha_k" } });
});

test("where the key is found is the extension's business, never a server setting", () => {
  assert.ok(CLIENT_KEYS.has("keyEnv") && CLIENT_KEYS.has("keyFile"));
  assert.deepEqual(toServerSettings([["keyFile", "/k"], ["keyEnv", "X"]]), { hybridAssist: {} });
});
