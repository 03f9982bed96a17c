import assert from "node:assert/strict";
import { test } from "node:test";

import {
  firstRoute,
  formatCost,
  formatExplanation,
  formatStatusBar,
  parseBudget,
  parseExplanation,
  parseRoute,
  routeFromCompletionItem,
  routeFromInlineItem,
} from "../../src/core/route";

const local = { id: "r1", target: "local", model: "qwen2.5-coder", cloud: false, cost_usd: 0, latency_ms: 12.3 };
const cloud = { id: "r2", target: "anthropic", model: "claude-sonnet-4-6", cloud: true, cost_usd: 0.00123 };

test("parseRoute reads the server's route data", () => {
  assert.deepEqual(parseRoute(local), {
    id: "r1",
    target: "local",
    model: "qwen2.5-coder",
    cloud: false,
    costUsd: 0,
    latencyMs: 12.3,
  });
  assert.equal(parseRoute({ target: "openai", model: null })?.cloud, true);
  assert.equal(parseRoute({ target: "openai", model: "" })?.model, null);
  assert.equal(parseRoute({ model: "x" }), undefined);
  assert.equal(parseRoute(null), undefined);
  assert.equal(parseRoute([local]), undefined);
  assert.equal(parseRoute({ ...local, budget_remaining_usd: 1.5 })?.budgetRemainingUsd, 1.5);
});

test("routes from inline items (command argument) and completion items (data)", () => {
  const inline = { insertText: "x", command: { title: "t", command: "hybrid.completionAccepted", arguments: [cloud] } };
  assert.equal(routeFromInlineItem(inline)?.id, "r2");
  assert.equal(routeFromInlineItem({ insertText: "x" }), undefined);
  assert.equal(routeFromInlineItem({ command: { command: "c" } }), undefined);
  assert.equal(routeFromCompletionItem({ label: "a", data: local })?.target, "local");
  assert.equal(firstRoute({ items: [{ insertText: "" }, inline] }, "inline")?.id, "r2");
  assert.equal(firstRoute([{ label: "a", data: local }], "completion")?.id, "r1");
  assert.equal(firstRoute(null, "inline"), undefined);
  assert.equal(firstRoute({ items: [] }, "completion"), undefined);
});

test("status bar shows local/cloud, model, cost and budget", () => {
  const localView = formatStatusBar(parseRoute(local));
  assert.equal(localView.text, "$(server) local · qwen2.5-coder · $0");
  assert.match(localView.tooltip, /latency: 12 ms/);
  const cloudView = formatStatusBar(parseRoute(cloud), { remainingUsd: 4.5, limitUsd: 10 });
  assert.equal(cloudView.text, "$(cloud) cloud anthropic · claude-sonnet-4-6 · $0.0012 · budget $4.50/$10.00");
  assert.equal(formatStatusBar(undefined).text, "$(sparkle) hybrid");
  assert.match(formatStatusBar(undefined, { exhausted: true }).text, /budget exhausted/);
  assert.match(formatStatusBar(parseRoute({ ...cloud, budget_remaining_usd: 2 })).text, /budget \$2\.00 left/);
  assert.equal(formatCost(0.5), "$0.50");
});

test("parseBudget is best effort", () => {
  assert.equal(parseBudget({ local: {} }), undefined);
  assert.equal(parseBudget("x"), undefined);
  assert.deepEqual(parseBudget({ budget: { remaining_usd: 0, limit_usd: 5 } }), {
    remainingUsd: 0,
    limitUsd: 5,
    exhausted: true,
  });
  assert.deepEqual(parseBudget({ budget_remaining_usd: 3 }), { remainingUsd: 3, exhausted: false });
});

test("explainRoute results", () => {
  const parsed = parseExplanation({
    scope: { level: "single_file" },
    route: { target: "local", model: "m", reasons: ["short context", "local available"] },
    estimate: { cost_usd: 0 },
  });
  assert.deepEqual(parsed, {
    scopeLevel: "single_file",
    target: "local",
    model: "m",
    reasons: ["short context", "local available"],
    costUsd: 0,
  });
  assert.ok(parsed);
  assert.match(formatExplanation(parsed), /Route: local \(m\)\nScope: single_file\nEstimated cost: \$0\nReasons:\n {2}- short context/);
  assert.equal(parseExplanation({ scope: {} }), undefined);
});
