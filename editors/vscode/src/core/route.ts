/**
 * Route data carried by hybrid-assist completion items and inline completion items,
 * and its rendering for the status bar. No `vscode` import: unit-testable under node.
 *
 * The server attaches `{id, target, model, cloud, cost_usd, latency_ms}` as a completion
 * item's `data` and as the first argument of an inline completion item's `command`.
 */

export interface RouteInfo {
  id: string;
  /** `local`, or the cloud target (provider) the request went to. */
  target: string;
  model: string | null;
  cloud: boolean;
  costUsd: number;
  latencyMs?: number;
  /** Remaining budget in USD, when the server reports it. */
  budgetRemainingUsd?: number;
}

export interface BudgetState {
  remainingUsd?: number;
  limitUsd?: number;
  exhausted?: boolean;
}

export interface StatusBarView {
  text: string;
  tooltip: string;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function asNumber(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** Route data from a completion item's `data` (or any object shaped like it). */
export function parseRoute(data: unknown): RouteInfo | undefined {
  if (!isObject(data) || typeof data.target !== "string" || data.target === "") {
    return undefined;
  }
  const route: RouteInfo = {
    id: typeof data.id === "string" ? data.id : "",
    target: data.target,
    model: typeof data.model === "string" && data.model !== "" ? data.model : null,
    cloud: typeof data.cloud === "boolean" ? data.cloud : data.target !== "local",
    costUsd: asNumber(data.cost_usd) ?? 0,
  };
  const latency = asNumber(data.latency_ms);
  if (latency !== undefined) {
    route.latencyMs = latency;
  }
  const budget = asNumber(data.budget_remaining_usd);
  if (budget !== undefined) {
    route.budgetRemainingUsd = budget;
  }
  return route;
}

/** Route data from an inline completion item: the first argument of its command. */
export function routeFromInlineItem(item: unknown): RouteInfo | undefined {
  if (!isObject(item) || !isObject(item.command)) {
    return undefined;
  }
  const args = item.command.arguments;
  return Array.isArray(args) ? parseRoute(args[0]) : undefined;
}

/** Route data from a completion item: its `data`. */
export function routeFromCompletionItem(item: unknown): RouteInfo | undefined {
  return isObject(item) ? parseRoute(item.data) : undefined;
}

/** The items of a completion / inline completion result (array or list), never undefined. */
export function resultItems(result: unknown): unknown[] {
  if (Array.isArray(result)) {
    return result;
  }
  if (isObject(result) && Array.isArray(result.items)) {
    return result.items;
  }
  return [];
}

/** The first route found among the items of a result. */
export function firstRoute(result: unknown, kind: "inline" | "completion"): RouteInfo | undefined {
  const read = kind === "inline" ? routeFromInlineItem : routeFromCompletionItem;
  for (const item of resultItems(result)) {
    const route = read(item);
    if (route) {
      return route;
    }
  }
  return undefined;
}

export function formatCost(usd: number): string {
  if (usd === 0) {
    return "$0";
  }
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

/** Budget state from a `hybrid.status` result, if the server provides one. */
export function parseBudget(status: unknown): BudgetState | undefined {
  if (!isObject(status)) {
    return undefined;
  }
  const raw = isObject(status.budget) ? status.budget : isObject(status.budgets) ? status.budgets : undefined;
  if (!raw) {
    const remaining = asNumber(status.budget_remaining_usd);
    return remaining === undefined ? undefined : { remainingUsd: remaining, exhausted: remaining <= 0 };
  }
  const state: BudgetState = {};
  const remaining = asNumber(raw.remaining_usd) ?? asNumber(raw.budget_remaining_usd);
  const limit = asNumber(raw.limit_usd);
  if (remaining !== undefined) {
    state.remainingUsd = remaining;
  }
  if (limit !== undefined) {
    state.limitUsd = limit;
  }
  if (typeof raw.exhausted === "boolean") {
    state.exhausted = raw.exhausted;
  } else if (remaining !== undefined) {
    state.exhausted = remaining <= 0;
  }
  return Object.keys(state).length ? state : undefined;
}

function formatBudget(budget: BudgetState): string {
  if (budget.exhausted) {
    return "budget exhausted";
  }
  if (budget.remainingUsd !== undefined && budget.limitUsd !== undefined) {
    return `budget ${formatCost(budget.remainingUsd)}/${formatCost(budget.limitUsd)}`;
  }
  if (budget.remainingUsd !== undefined) {
    return `budget ${formatCost(budget.remainingUsd)} left`;
  }
  return "";
}

/** Status bar text and tooltip for the last request's route and the budget state. */
export function formatStatusBar(route: RouteInfo | undefined, budget?: BudgetState): StatusBarView {
  const effectiveBudget =
    budget ?? (route?.budgetRemainingUsd !== undefined ? { remainingUsd: route.budgetRemainingUsd } : undefined);
  const budgetText = effectiveBudget ? formatBudget(effectiveBudget) : "";
  if (!route) {
    return {
      text: budgetText ? `$(sparkle) hybrid · ${budgetText}` : "$(sparkle) hybrid",
      tooltip: "hybrid-assist: no request yet" + (budgetText ? `\n${budgetText}` : ""),
    };
  }
  const icon = route.cloud ? "$(cloud)" : "$(server)";
  const where = route.cloud ? `cloud ${route.target}` : "local";
  const parts = [`${icon} ${where}`];
  if (route.model) {
    parts.push(route.model);
  }
  parts.push(formatCost(route.costUsd));
  if (budgetText) {
    parts.push(budgetText);
  }
  const tooltip = [
    `hybrid-assist: last request went to ${route.cloud ? "the cloud" : "the local engine"}`,
    `target: ${route.target}`,
    `model: ${route.model ?? "n/a"}`,
    `cost: ${formatCost(route.costUsd)}`,
  ];
  if (route.latencyMs !== undefined) {
    tooltip.push(`latency: ${Math.round(route.latencyMs)} ms`);
  }
  if (budgetText) {
    tooltip.push(budgetText);
  }
  return { text: parts.join(" · "), tooltip: tooltip.join("\n") };
}

export interface RouteExplanation {
  scopeLevel: string;
  target: string;
  model: string | null;
  reasons: string[];
  costUsd: number | null;
}

/** The fields of a `hybrid.explainRoute` result the editor shows. */
export function parseExplanation(result: unknown): RouteExplanation | undefined {
  if (!isObject(result) || !isObject(result.route)) {
    return undefined;
  }
  const scope = isObject(result.scope) ? result.scope : {};
  const estimate = isObject(result.estimate) ? result.estimate : {};
  const reasons = Array.isArray(result.route.reasons) ? result.route.reasons.map((r) => String(r)) : [];
  return {
    scopeLevel: typeof scope.level === "string" ? scope.level : "unknown",
    target: typeof result.route.target === "string" ? result.route.target : "unknown",
    model: typeof result.route.model === "string" ? result.route.model : null,
    reasons,
    costUsd: asNumber(estimate.cost_usd) ?? null,
  };
}

export function formatExplanation(explanation: RouteExplanation): string {
  const cost = explanation.costUsd === null ? "n/a" : formatCost(explanation.costUsd);
  const lines = [
    `Route: ${explanation.target}${explanation.model ? ` (${explanation.model})` : ""}`,
    `Scope: ${explanation.scopeLevel}`,
    `Estimated cost: ${cost}`,
  ];
  if (explanation.reasons.length) {
    lines.push("Reasons:", ...explanation.reasons.map((r) => `  - ${r}`));
  }
  return lines.join("\n");
}
