import assert from "node:assert/strict";
import { test } from "node:test";

import { SERVER_COMMANDS, commandArgument, summarizeResult } from "../../src/core/commands";

const byId = (id: string) => {
  const command = SERVER_COMMANDS.find((c) => c.id === id);
  assert.ok(command, id);
  return command;
};

test("review commands carry their scope, and the file's URI only for a file review", () => {
  assert.deepEqual(commandArgument(byId("hybridAssist.reviewFile"), "file:///p/a.py"), { scope: "file", uri: "file:///p/a.py" });
  assert.deepEqual(commandArgument(byId("hybridAssist.reviewDiff"), "file:///p/a.py"), { scope: "diff" });
  assert.deepEqual(commandArgument(byId("hybridAssist.reviewRepository"), undefined), { scope: "repository" });
});

test("document commands send the active document, or nothing without one", () => {
  assert.deepEqual(commandArgument(byId("hybridAssist.documentation"), "file:///p/a.py"), { uri: "file:///p/a.py" });
  assert.deepEqual(commandArgument(byId("hybridAssist.documentation"), undefined), {});
  assert.deepEqual(commandArgument(byId("hybridAssist.architecture"), "file:///p/a.py"), {});
});

test("every server command of the language server has a palette entry", () => {
  const servers = new Set(SERVER_COMMANDS.map((c) => c.server));
  for (const name of [
    "hybrid.review",
    "hybrid.securityAudit",
    "hybrid.performance",
    "hybrid.architecture",
    "hybrid.documentation",
    "hybrid.apiIntegration",
    "hybrid.generateTestSuite",
  ]) {
    assert.ok(servers.has(name), name);
  }
});

test("results are summarised in one line", () => {
  const review = byId("hybridAssist.reviewFile");
  assert.equal(summarizeResult(review, { findings: 3 }), "hybrid-assist: Review This File: 3 finding(s)");
  assert.equal(summarizeResult(review, { cancelled: true }), "hybrid-assist: Review This File: cancelled");
  assert.equal(summarizeResult(review, { error: "no findings list in the answer" }), "hybrid-assist: Review This File: no findings list in the answer");
  const docs = byId("hybridAssist.documentation");
  assert.equal(summarizeResult(docs, { path: "/p/docs/hybrid-assist/documentation.md" }), "hybrid-assist: Write Documentation: wrote /p/docs/hybrid-assist/documentation.md");
  const tests = byId("hybridAssist.generateTestSuite");
  assert.equal(summarizeResult(tests, { files: [{}, {}], applied: false }), "hybrid-assist: Generate a Test Suite: 2 file(s) (not applied)");
  assert.equal(summarizeResult(tests, null), "hybrid-assist: Generate a Test Suite: no result");
});
