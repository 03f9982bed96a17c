/**
 * Protocol-level test against the REAL hybrid-assist server process (no VS Code): the
 * requests the extension relies on, read with the same route module the extension uses.
 *
 * The server executable is $HYBRID_LSP_BIN, else ../../.venv/bin/hybrid-assist, else
 * `hybrid-assist` on PATH. Its config: instant backend, cloud providers disabled.
 */

import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { pathToFileURL } from "node:url";
import {
  type MessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  createMessageConnection,
} from "vscode-languageserver-protocol/node";

import { FeedbackTracker } from "../src/core/feedback";
import { readKey, withKey } from "../src/core/key";
import { firstRoute, formatStatusBar, parseExplanation, routeFromInlineItem } from "../src/core/route";

const REPLY = "return a + b";

function serverBin(): string {
  if (process.env.HYBRID_LSP_BIN) {
    return process.env.HYBRID_LSP_BIN;
  }
  const venv = join(__dirname, "..", "..", "..", "..", ".venv", "bin", "hybrid-assist");
  return existsSync(venv) ? venv : "hybrid-assist";
}

let tmp: string;
let server: ChildProcessWithoutNullStreams;
let connection: MessageConnection;
let stderr = "";
let serverEnv: NodeJS.ProcessEnv = {};
const workspace = () => join(tmp, "ws");
const docUri = () => pathToFileURL(join(workspace(), "calc.py")).toString();

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), "hybrid-vscode-"));
  const config = join(tmp, "config.toml");
  writeFileSync(
    config,
    `data_dir = ${JSON.stringify(join(tmp, "data"))}

[local]
backend = "instant"
instant_reply = ${JSON.stringify(REPLY)}
instant_token_delay_ms = 0

[completion]
debounce_ms = 0

[analysis]
index_cache_dir = ${JSON.stringify(join(tmp, "index-cache"))}

[providers.openai]
enabled = false
[providers.anthropic]
enabled = false
[providers.gemini]
enabled = false
`,
  );
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("HYBRID_ASSIST_")) {
      env[key] = value;
    }
  }
  Object.assign(env, {
    HYBRID_ASSIST_CONFIG: config,
    XDG_CONFIG_HOME: join(tmp, "xdg-config"),
    XDG_CACHE_HOME: join(tmp, "xdg-cache"),
    XDG_DATA_HOME: join(tmp, "xdg-data"),
    HF_HUB_OFFLINE: "1",
    OPENAI_API_KEY: "",
    ANTHROPIC_API_KEY: "",
    GEMINI_API_KEY: "",
  });
  serverEnv = env;
  server = spawn(serverBin(), ["lsp"], { env, stdio: ["pipe", "pipe", "pipe"] });
  server.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  connection = createMessageConnection(new StreamMessageReader(server.stdout), new StreamMessageWriter(server.stdin));
  connection.onNotification(() => undefined);
  connection.onRequest(() => null); // window/workDoneProgress/create, client/registerCapability, ...
  connection.listen();
});

after(() => {
  connection?.dispose();
  if (server && server.exitCode === null) {
    server.kill();
  }
  rmSync(tmp, { recursive: true, force: true });
});

async function withStderr<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    throw new Error(`${String(error)}\n--- server stderr ---\n${stderr.slice(-4000)}`);
  }
}

function request<T>(method: string, params: unknown): Promise<T> {
  return withStderr(connection.sendRequest<T>(method, params));
}

test("initialize, inline completion, hover, explainRoute, feedback, shutdown", { timeout: 90_000 }, async () => {
  const init = await request<{ capabilities: Record<string, unknown> }>("initialize", {
    processId: process.pid,
    rootUri: null,
    workspaceFolders: null,
    capabilities: {
      general: { positionEncodings: ["utf-16"] },
      textDocument: {
        synchronization: { dynamicRegistration: false },
        completion: { completionItem: { snippetSupport: false } },
        inlineCompletion: { dynamicRegistration: false },
        hover: { contentFormat: ["markdown", "plaintext"] },
        codeAction: { resolveSupport: { properties: ["edit"] } },
      },
      window: { workDoneProgress: true },
    },
    initializationOptions: { hybridAssist: { completion: { debounce_ms: 0 } } },
  });
  const caps = init.capabilities;
  assert.ok(caps.inlineCompletionProvider, "server offers inline completion");
  assert.ok(caps.hoverProvider, "server offers hover");
  assert.ok(caps.codeActionProvider, "server offers code actions");
  const commands = (caps.executeCommandProvider as { commands: string[] }).commands;
  for (const command of ["hybrid.explainRoute", "hybrid.status"]) {
    assert.ok(commands.includes(command), `server offers ${command}`);
  }
  await connection.sendNotification("initialized", {});

  const text = "def add(a, b):\n    \n";
  await connection.sendNotification("textDocument/didOpen", {
    textDocument: { uri: docUri(), languageId: "python", version: 1, text },
  });
  const position = { line: 1, character: 4 };

  const inline = await request<unknown>("textDocument/inlineCompletion", {
    textDocument: { uri: docUri() },
    position,
    context: { triggerKind: 1 },
  });
  const items = (inline as { items: { insertText: string }[] }).items;
  assert.equal(items.length, 1);
  assert.equal(items[0].insertText, REPLY);
  const route = firstRoute(inline, "inline");
  assert.ok(route, "the inline item carries route data");
  assert.deepEqual(routeFromInlineItem(items[0]), route);
  assert.equal(route.target, "local");
  assert.equal(route.cloud, false);
  assert.equal(route.costUsd, 0);
  assert.ok(route.id, "the route has a request id");
  assert.match(formatStatusBar(route).text, /^\$\(server\) local · .*\$0$/);

  const hover = await request<{ contents: unknown } | null>("textDocument/hover", {
    textDocument: { uri: docUri() },
    position: { line: 0, character: 5 },
  });
  assert.ok(hover, `hover result: ${stderr.slice(-2000)}`);
  assert.ok(JSON.stringify(hover.contents).includes(REPLY), JSON.stringify(hover));

  const explained = await request<unknown>("workspace/executeCommand", {
    command: "hybrid.explainRoute",
    arguments: [{ uri: docUri(), position, task: "completion" }],
  });
  const explanation = parseExplanation(explained);
  assert.ok(explanation, `explainRoute result: ${JSON.stringify(explained)}`);
  assert.equal(explanation.target, "local");
  assert.notEqual(explanation.scopeLevel, "unknown");
  assert.equal(typeof explanation.costUsd, "number");

  // Accept through the same bookkeeping the extension uses, then see it in hybrid.status.
  const tracker = new FeedbackTracker(0);
  tracker.shown([route.id], Date.now());
  const accepted = tracker.accepted(route.id);
  assert.deepEqual(accepted, { id: route.id, accepted: true });
  await connection.sendNotification("hybrid/completionFeedback", accepted);
  let completions: { accepted: number } = { accepted: 0 };
  for (let i = 0; i < 50 && completions.accepted < 1; i++) {
    const status = await request<{ completions: { accepted: number } }>("workspace/executeCommand", {
      command: "hybrid.status",
      arguments: [],
    });
    completions = status.completions;
    if (completions.accepted < 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  assert.equal(completions.accepted, 1, "the server counted the accepted completion");

  await request<null>("shutdown", null);
  const exited = new Promise<number | null>((resolve) => server.once("exit", (code) => resolve(code)));
  await connection.sendNotification("exit");
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve("timeout"), 20_000);
  });
  const code = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  assert.equal(code, 0, `server exit: ${String(code)}\n${stderr.slice(-2000)}`);
});

test("a shared server with [server] auth = \"keys\": the key from a file is sent, none is refused", { timeout: 90_000 }, async () => {
  const config = join(tmp, "shared.toml");
  writeFileSync(config, readFileSync(serverEnv.HYBRID_ASSIST_CONFIG as string, "utf8") + '\n[server]\nauth = "keys"\n');
  const env = { ...serverEnv, HYBRID_ASSIST_CONFIG: config };
  const added = spawnSync(serverBin(), ["gateway", "users", "add", "vera"], { env, encoding: "utf8" });
  assert.equal(added.status, 0, added.stderr);
  const keyFile = join(tmp, "key");
  writeFileSync(keyFile, added.stdout.trim().split("\n").pop() + "\n");
  const shared = spawn(serverBin(), ["lsp", "--tcp", "127.0.0.1:0"], { env, stdio: ["ignore", "ignore", "pipe"] });
  try {
    let log = "";
    const port = await new Promise<number>((resolve, reject) => {
      shared.stderr.on("data", (chunk: Buffer) => {
        log += chunk.toString();
        const match = /listening on [\d.]+:(\d+)/.exec(log);
        if (match) {
          resolve(Number(match[1]));
        }
      });
      shared.once("exit", (code) => reject(new Error(`server exited ${String(code)}: ${log}`)));
    });
    const open = async (): Promise<MessageConnection> => {
      const socket = net.connect(port, "127.0.0.1");
      await new Promise((resolve) => socket.once("connect", resolve));
      const conn = createMessageConnection(new StreamMessageReader(socket), new StreamMessageWriter(socket));
      conn.onRequest(() => null);
      conn.onNotification(() => undefined);
      conn.listen();
      return conn;
    };
    const params = (options: Record<string, unknown>) => ({
      processId: process.pid,
      rootUri: null,
      workspaceFolders: null,
      capabilities: {},
      initializationOptions: options,
    });
    const settings = { hybridAssist: { completion: { debounce_ms: 0 } } };
    // the extension's own key reading: no environment variable, so the file
    const key = readKey({}, "HYBRID_ASSIST_KEY", keyFile, (path) => readFileSync(path, "utf8"), tmp);
    assert.ok(key?.startsWith("ha_"));
    const served = await open();
    const init = await served.sendRequest<{ capabilities: Record<string, unknown> }>("initialize", params(withKey(settings, key)));
    assert.ok(init.capabilities.hoverProvider);
    await served.sendNotification("initialized", {});
    const status = await served.sendRequest<{ local: { model: string } }>("workspace/executeCommand", {
      command: "hybrid.status",
      arguments: [],
    });
    assert.equal(status.local.model, "instant");
    served.dispose();
    const refused = await open();
    await assert.rejects(refused.sendRequest("initialize", params(withKey(settings, undefined))), /needs a key/);
    refused.dispose();
  } finally {
    shared.kill();
  }
});
