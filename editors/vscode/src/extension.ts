/**
 * VS Code client of the hybrid-assist language server.
 *
 * Completions, inline completions (LSP 3.18 `textDocument/inlineCompletion`), hover and code
 * actions come through vscode-languageclient's standard features. The middleware reads the
 * route data of each completion result for the status bar and the accept/reject feedback.
 * The pure logic lives in ./core (no `vscode` import) and is unit-tested under node.
 */

import { readFileSync } from "node:fs";
import * as net from "node:net";
import { homedir } from "node:os";
import * as vscode from "vscode";
import {
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  type StreamInfo,
  TransportKind,
} from "vscode-languageclient/node";

import { parseTcpAddress } from "./core/address";
import { SERVER_COMMANDS, type ServerCommand, commandArgument, summarizeResult } from "./core/commands";
import { FeedbackTracker } from "./core/feedback";
import { DEFAULT_KEY_ENV, readKey, withKey } from "./core/key";
import {
  type BudgetState,
  type RouteInfo,
  firstRoute,
  formatExplanation,
  formatStatusBar,
  parseBudget,
  parseExplanation,
  resultItems,
  routeFromCompletionItem,
  routeFromInlineItem,
} from "./core/route";
import { SECTION, serverKeys, toServerSettings } from "./core/settings";

const FEEDBACK_NOTIFICATION = "hybrid/completionFeedback";
const ACCEPT_COMMAND = "hybridAssist.completionAccepted";

let client: LanguageClient | undefined;
let statusItem: vscode.StatusBarItem;
let output: vscode.LogOutputChannel;
let lastRoute: RouteInfo | undefined;
let budget: BudgetState | undefined;
const feedback = new FeedbackTracker();
let feedbackTimer: NodeJS.Timeout | undefined;

function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(SECTION);
}

/** The server settings the user actually set (defaults are left to the server's own config). */
function userServerSettings(context: vscode.ExtensionContext): Record<string, unknown> {
  const properties =
    (context.extension.packageJSON as { contributes?: { configuration?: { properties?: Record<string, unknown> } } })
      .contributes?.configuration?.properties ?? {};
  const cfg = config();
  const entries: [string, unknown][] = [];
  for (const key of serverKeys(properties)) {
    const inspected = cfg.inspect(key);
    const value = inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue;
    if (value !== undefined) {
      entries.push([key, value]);
    }
  }
  return toServerSettings(entries);
}

/** initializationOptions: the user's server settings, and for a shared server (`tcp`) the key. */
function initializationOptions(context: vscode.ExtensionContext): Record<string, unknown> {
  const settings = userServerSettings(context);
  if (!config().get<string>("tcp", "").trim()) {
    return settings;
  }
  const key = readKey(
    process.env,
    config().get<string>("keyEnv", DEFAULT_KEY_ENV),
    config().get<string>("keyFile", ""),
    (path) => readFileSync(path, "utf8"),
    homedir(),
  );
  if (key === undefined) {
    output.warn("no key for the shared server: set $HYBRID_ASSIST_KEY or hybridAssist.keyFile");
  }
  return withKey(settings, key);
}

function serverOptions(): ServerOptions {
  const tcp = config().get<string>("tcp", "").trim();
  if (tcp) {
    const address = parseTcpAddress(tcp);
    return () =>
      new Promise<StreamInfo>((resolve, reject) => {
        const socket = net.connect(address.port, address.host);
        socket.once("connect", () => resolve({ reader: socket, writer: socket }));
        socket.once("error", reject);
      });
  }
  const command = config().get<string>("serverPath", "hybrid-assist") || "hybrid-assist";
  return { command, args: ["lsp"], transport: TransportKind.stdio };
}

function updateStatusBar(): void {
  const view = formatStatusBar(lastRoute, budget);
  statusItem.text = view.text;
  statusItem.tooltip = view.tooltip;
}

function sendFeedback(items: { id: string; accepted: boolean }[]): void {
  for (const item of items) {
    void client?.sendNotification(FEEDBACK_NOTIFICATION, item);
  }
}

function scheduleRejections(): void {
  if (feedbackTimer) {
    clearTimeout(feedbackTimer);
  }
  feedbackTimer = setTimeout(() => {
    feedbackTimer = undefined;
    sendFeedback(feedback.due(Date.now()));
    if (feedback.pendingIds.length) {
      scheduleRejections();
    }
  }, feedback.graceMs + 50);
}

function routeShown(route: RouteInfo | undefined, ids: string[]): void {
  if (route) {
    lastRoute = route;
    updateStatusBar();
  }
  if (ids.length) {
    feedback.shown(ids, Date.now());
    scheduleRejections();
  }
}

function acceptCommand(data: unknown): vscode.Command {
  return { title: "hybrid-assist: accepted", command: ACCEPT_COMMAND, arguments: [data] };
}

function clientOptions(context: vscode.ExtensionContext): LanguageClientOptions {
  return {
    documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
    outputChannel: output,
    initializationOptions: initializationOptions(context),
    middleware: {
      provideInlineCompletionItems: async (document, position, ctx, token, next) => {
        const result = await next(document, position, ctx, token);
        const ids: string[] = [];
        for (const item of resultItems(result) as vscode.InlineCompletionItem[]) {
          const route = routeFromInlineItem(item);
          if (route) {
            ids.push(route.id);
            // Accept is reported by our command (the item's own server command is replaced).
            item.command = acceptCommand(item.command?.arguments?.[0]);
          }
        }
        routeShown(firstRoute(result, "inline"), ids);
        return result;
      },
      provideCompletionItem: async (document, position, ctx, token, next) => {
        const result = await next(document, position, ctx, token);
        const ids: string[] = [];
        for (const item of resultItems(result) as vscode.CompletionItem[]) {
          const route = routeFromCompletionItem(item);
          if (route) {
            ids.push(route.id);
            item.command ??= acceptCommand((item as { data?: unknown }).data);
          }
        }
        routeShown(firstRoute(result, "completion"), ids);
        return result;
      },
    },
  };
}

async function refreshBudget(): Promise<unknown> {
  if (!client?.isRunning()) {
    return undefined;
  }
  const status: unknown = await client.sendRequest("workspace/executeCommand", { command: "hybrid.status", arguments: [] });
  budget = parseBudget(status);
  updateStatusBar();
  return status;
}

async function startClient(context: vscode.ExtensionContext): Promise<void> {
  try {
    client = new LanguageClient("hybridAssist", "hybrid-assist", serverOptions(), clientOptions(context));
    await client.start();
    await refreshBudget().catch(() => undefined);
  } catch (error) {
    void vscode.window.showErrorMessage(`hybrid-assist: cannot start the language server: ${String(error)}`);
  }
}

async function stopClient(): Promise<void> {
  const current = client;
  client = undefined;
  if (current) {
    await current.stop().catch(() => undefined);
  }
}

async function explainRoute(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!client?.isRunning() || !editor) {
    void vscode.window.showWarningMessage("hybrid-assist: open a document (and start the server) first.");
    return;
  }
  const position = editor.selection.active;
  const argument = {
    uri: editor.document.uri.toString(),
    position: { line: position.line, character: position.character },
    task: "completion",
  };
  const result: unknown = await client.sendRequest("workspace/executeCommand", {
    command: "hybrid.explainRoute",
    arguments: [argument],
  });
  const explanation = parseExplanation(result);
  output.appendLine("hybrid.explainRoute:");
  output.appendLine(explanation ? formatExplanation(explanation) : JSON.stringify(result, null, 2));
  output.show(true);
  if (explanation) {
    void vscode.window.showInformationMessage(
      `hybrid-assist: ${explanation.target}${explanation.model ? ` (${explanation.model})` : ""}, scope ${explanation.scopeLevel}`,
    );
  }
}

async function runServerCommand(command: ServerCommand): Promise<void> {
  if (!client?.isRunning()) {
    void vscode.window.showWarningMessage("hybrid-assist: the language server is not running.");
    return;
  }
  const uri = vscode.window.activeTextEditor?.document.uri.toString();
  try {
    const result: unknown = await client.sendRequest("workspace/executeCommand", {
      command: command.server,
      arguments: [commandArgument(command, uri)],
    });
    output.appendLine(`${command.server}: ${JSON.stringify(result)}`);
    void vscode.window.showInformationMessage(summarizeResult(command, result));
  } catch (error) {
    void vscode.window.showErrorMessage(`${command.title} failed: ${String(error)}`);
  }
}

async function showStatus(): Promise<void> {
  const status = await refreshBudget();
  if (status === undefined) {
    void vscode.window.showWarningMessage("hybrid-assist: the language server is not running.");
    return;
  }
  output.appendLine("hybrid.status:");
  output.appendLine(JSON.stringify(status, null, 2));
  output.show(true);
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("hybrid-assist", { log: true });
  statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  statusItem.command = "hybridAssist.status";
  updateStatusBar();
  statusItem.show();
  context.subscriptions.push(output, statusItem);

  context.subscriptions.push(
    vscode.commands.registerCommand("hybridAssist.explainRoute", () => explainRoute()),
    vscode.commands.registerCommand("hybridAssist.status", () => showStatus()),
    ...SERVER_COMMANDS.map((command) => vscode.commands.registerCommand(command.id, () => runServerCommand(command))),
    vscode.commands.registerCommand(ACCEPT_COMMAND, (data: unknown) => {
      const id = routeFromCompletionItem({ data })?.id ?? "";
      const accepted = feedback.accepted(id);
      if (accepted) {
        sendFeedback([accepted]);
      }
    }),
    // Best-effort dismissal: the shown item is superseded when the cursor leaves it.
    vscode.window.onDidChangeTextEditorSelection(() => {
      if (feedback.pendingIds.length) {
        feedback.supersede(Date.now());
        scheduleRejections();
      }
    }),
    vscode.window.onDidChangeActiveTextEditor(() => {
      if (feedback.pendingIds.length) {
        feedback.supersede(Date.now());
        scheduleRejections();
      }
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (!event.affectsConfiguration(SECTION)) {
        return;
      }
      const restart = ["serverPath", "tcp", "keyEnv", "keyFile"];
      if (restart.some((key) => event.affectsConfiguration(`${SECTION}.${key}`))) {
        await stopClient();
        await startClient(context);
        return;
      }
      await client?.sendNotification("workspace/didChangeConfiguration", { settings: userServerSettings(context) });
    }),
  );
  await startClient(context);
}

export async function deactivate(): Promise<void> {
  if (feedbackTimer) {
    clearTimeout(feedbackTimer);
  }
  feedback.supersede(Date.now());
  sendFeedback(feedback.due(Number.POSITIVE_INFINITY));
  await stopClient();
}
