import assert from "node:assert/strict";
import { test } from "node:test";

import { FeedbackTracker } from "../../src/core/feedback";

test("accepted once, never rejected afterwards", () => {
  const t = new FeedbackTracker(100);
  t.shown(["a"], 0);
  assert.deepEqual(t.accepted("a"), { id: "a", accepted: true });
  assert.equal(t.accepted("a"), undefined);
  t.supersede(10);
  assert.deepEqual(t.due(1000), []);
  t.shown(["a"], 20); // shown again after being reported: ignored
  assert.deepEqual(t.pendingIds, []);
});

test("superseded items are rejected after the grace period", () => {
  const t = new FeedbackTracker(100);
  t.shown(["a"], 0);
  t.shown(["b"], 50); // a superseded at 50
  assert.deepEqual(t.due(120), []);
  assert.deepEqual(t.due(150), [{ id: "a", accepted: false }]);
  assert.deepEqual(t.pendingIds, ["b"]);
  assert.deepEqual(t.due(10_000), []); // b is still shown
  t.supersede(200);
  assert.deepEqual(t.due(300), [{ id: "b", accepted: false }]);
  assert.deepEqual(t.due(400), []);
});

test("an accept within the grace period wins over the rejection", () => {
  const t = new FeedbackTracker(100);
  t.shown(["a"], 0);
  t.shown(["b"], 10); // the edit of accepting a already triggered the next request
  assert.deepEqual(t.accepted("a"), { id: "a", accepted: true });
  assert.deepEqual(t.due(1000), []);
});

test("empty ids are ignored and the same result shown twice stays pending", () => {
  const t = new FeedbackTracker(100);
  t.shown(["", "a"], 0);
  t.shown(["a"], 50);
  assert.deepEqual(t.pendingIds, ["a"]);
  assert.deepEqual(t.due(1000), []);
  assert.equal(t.accepted(""), undefined);
});

test("the memory of reported ids is bounded", () => {
  const t = new FeedbackTracker(0, 2);
  for (const id of ["a", "b", "c"]) {
    t.accepted(id);
  }
  assert.deepEqual(t.accepted("a"), { id: "a", accepted: true }); // forgotten, reported again
  assert.equal(t.accepted("c"), undefined);
});
