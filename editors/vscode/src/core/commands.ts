/**
 * The server's long, repository-wide commands as VS Code palette commands.
 *
 * Each entry maps a palette command to the `workspace/executeCommand` the language server
 * implements; the server reports `$/progress` (shown by vscode-languageclient with a cancel
 * button), publishes findings as diagnostics, opens generated documents with
 * `window/showDocument` and sends generated files through `workspace/applyEdit`. Pure: no
 * `vscode` import, unit-tested under node.
 */

export interface ServerCommand {
  /** the palette command id (contributed in package.json) */
  id: string;
  /** the title shown in the palette */
  title: string;
  /** the server's `workspace/executeCommand` name */
  server: string;
  /** whether the command's argument carries the active document's URI */
  usesDocument: boolean;
}

export const SERVER_COMMANDS: readonly ServerCommand[] = [
  { id: "hybridAssist.reviewFile", title: "hybrid-assist: Review This File", server: "hybrid.review", usesDocument: true },
  { id: "hybridAssist.reviewDiff", title: "hybrid-assist: Review the Git Diff", server: "hybrid.review", usesDocument: false },
  {
    id: "hybridAssist.reviewRepository",
    title: "hybrid-assist: Review the Repository",
    server: "hybrid.review",
    usesDocument: false,
  },
  { id: "hybridAssist.securityAudit", title: "hybrid-assist: Security Audit", server: "hybrid.securityAudit", usesDocument: false },
  { id: "hybridAssist.performance", title: "hybrid-assist: Performance Suggestions", server: "hybrid.performance", usesDocument: true },
  { id: "hybridAssist.architecture", title: "hybrid-assist: Architecture Analysis", server: "hybrid.architecture", usesDocument: false },
  { id: "hybridAssist.documentation", title: "hybrid-assist: Write Documentation", server: "hybrid.documentation", usesDocument: true },
  {
    id: "hybridAssist.apiIntegration",
    title: "hybrid-assist: API Integration Recommendations",
    server: "hybrid.apiIntegration",
    usesDocument: true,
  },
  {
    id: "hybridAssist.generateTestSuite",
    title: "hybrid-assist: Generate a Test Suite",
    server: "hybrid.generateTestSuite",
    usesDocument: true,
  },
];

/** The single argument object of the server command, given the active document's URI (if any). */
export function commandArgument(command: ServerCommand, documentUri: string | undefined): Record<string, unknown> {
  const argument: Record<string, unknown> = {};
  if (command.server === "hybrid.review") {
    argument.scope = command.id === "hybridAssist.reviewFile" ? "file" : command.id === "hybridAssist.reviewDiff" ? "diff" : "repository";
  }
  if (command.usesDocument && documentUri) {
    argument.uri = documentUri;
  }
  return argument;
}

/** One line summarising a command's JSON result for a notification. */
export function summarizeResult(command: ServerCommand, result: unknown): string {
  if (typeof result !== "object" || result === null) {
    return `${command.title}: no result`;
  }
  const data = result as Record<string, unknown>;
  if (data.cancelled === true) {
    return `${command.title}: cancelled`;
  }
  if (typeof data.error === "string") {
    return `${command.title}: ${data.error}`;
  }
  if (typeof data.findings === "number") {
    return `${command.title}: ${data.findings} finding(s)`;
  }
  if (typeof data.path === "string") {
    return `${command.title}: wrote ${data.path}`;
  }
  if (Array.isArray(data.files)) {
    return `${command.title}: ${data.files.length} file(s)${data.applied === false ? " (not applied)" : ""}`;
  }
  return `${command.title}: done`;
}
