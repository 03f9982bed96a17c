import assert from "node:assert/strict";
import { test } from "node:test";

import { parseTcpAddress } from "../../src/core/address";

test("host:port forms", () => {
  assert.deepEqual(parseTcpAddress("127.0.0.1:2087"), { host: "127.0.0.1", port: 2087 });
  assert.deepEqual(parseTcpAddress(" build-box:9000 "), { host: "build-box", port: 9000 });
  assert.deepEqual(parseTcpAddress("[::1]:2087"), { host: "::1", port: 2087 });
  assert.deepEqual(parseTcpAddress(":2087"), { host: "127.0.0.1", port: 2087 });
});

test("bad addresses are rejected", () => {
  for (const bad of ["", "localhost", "host:", "host:x", "host:0", "host:70000", "::1:2087", "h:1:2"]) {
    assert.throws(() => parseTcpAddress(bad), /hybridAssist\.tcp/, bad);
  }
});
