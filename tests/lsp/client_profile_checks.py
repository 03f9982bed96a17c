"""A test client's view of every server message: does it use only what the client declared?

:class:`CapabilityChecker` reads the client's ``ClientCapabilities`` as the
raw JSON the client sent (not through the server's own
:mod:`lsp_server.client_capabilities`, which it is there to check) and every
message the server sends that client as raw JSON (:meth:`CapabilityChecker.attach`
taps the pytest-lsp client's protocol), and records a problem for each use of
a capability the client did not declare:

- server requests: ``window/workDoneProgress/create`` without
  ``window.workDoneProgress``, ``workspace/applyEdit`` without
  ``workspace.applyEdit``, ``window/showDocument`` without its support,
  ``workspace/configuration``, registrations without dynamic registration, the
  refresh requests without their support; a request the checker does not know;
- notifications: ``$/progress`` on a token the client did not create, a
  diagnostic's ``data``/``codeDescription``/``tags``/``relatedInformation``
  without the matching ``publishDiagnostics`` support; an unknown method;
- answers to the client's requests: Markdown hover or completion
  documentation for a client that does not list ``markdown`` (and Markdown
  syntax in what is sent as plain text), snippets, insert/replace edits,
  label details, list defaults, insert-text modes it did not declare; code
  actions as literals without ``codeActionLiteralSupport``, with ``data``
  without ``dataSupport``, needing resolve (no edit, no command) without
  ``resolveSupport`` for ``edit``, ``isPreferred``/``disabled`` without support;
  ``textDocumentSync.save`` that is not ``SaveOptions``; a position encoding it did not offer;
- every workspace edit (applyEdit, code actions, resolve): ``documentChanges``
  without support, ``create``/``rename``/``delete`` operations not listed in
  ``resourceOperations``, change annotations and snippet edits without support.

:meth:`CapabilityChecker.assert_clean` fails with every problem found.
"""

from __future__ import annotations

import re
from typing import Any

from lsprotocol import types
from lsprotocol.converters import get_converter
from pytest_lsp import LanguageClient

#: Markdown a plain-text reader would see raw.
MARKDOWN_SYNTAX = re.compile(r"```|\*\*|<sub>|</?[a-z]+>|^---$|^#{1,6} |\]\(", re.MULTILINE)

_REFRESH = {
    "workspace/semanticTokens/refresh": "workspace.semanticTokens.refreshSupport",
    "workspace/codeLens/refresh": "workspace.codeLens.refreshSupport",
    "workspace/inlayHint/refresh": "workspace.inlayHint.refreshSupport",
    "workspace/inlineValue/refresh": "workspace.inlineValue.refreshSupport",
    "workspace/diagnostic/refresh": "workspace.diagnostics.refreshSupport",
    "workspace/foldingRange/refresh": "workspace.foldingRange.refreshSupport",
}
_FREE_NOTIFICATIONS = {"window/showMessage", "window/logMessage", "telemetry/event", "$/logTrace"}
_RESOURCE_KINDS = {"create": "create", "rename": "rename", "delete": "delete"}


class CapabilityChecker:
    """The problems found in the server's messages to one client (see the module's docstring)."""

    def __init__(self, capabilities: types.ClientCapabilities) -> None:
        self.capabilities: dict[str, Any] = get_converter().unstructure(capabilities)
        self.problems: list[str] = []
        self.seen: list[dict[str, Any]] = []  # every raw message from the server
        self.answered: list[str] = []  # the methods of the client's requests the server answered
        self._sent: dict[Any, str] = {}  # our request ids -> method
        self._tokens: set[Any] = set()

    # -- wiring ---------------------------------------------------------
    def attach(self, client: LanguageClient) -> None:
        """Check every message ``client`` receives from now on (and remember the requests it sends)."""
        protocol = client.protocol
        structure, send = protocol.structure_message, protocol._send_data

        def structure_message(data: dict[str, Any]) -> Any:
            if isinstance(data, dict):
                self.incoming(data)
            return structure(data)

        def send_data(data: Any) -> None:
            method, msg_id = getattr(data, "method", None), getattr(data, "id", None)
            if method is not None and msg_id is not None:
                self._sent[msg_id] = method
            send(data)

        protocol.structure_message = structure_message  # type: ignore[method-assign]
        protocol._send_data = send_data  # type: ignore[method-assign]

    def assert_clean(self) -> None:
        assert not self.problems, "undeclared capabilities used:\n" + "\n".join(self.problems)

    # -- reading the client's capabilities ------------------------------------
    def declared(self, path: str) -> Any:
        """The value at the dotted camelCase ``path`` of the capabilities (None: not declared)."""
        node: Any = self.capabilities
        for key in path.split("."):
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node

    def _need(self, path: str, what: str) -> None:
        if not self.declared(path):
            self.problems.append(f"{what} without {path}")

    # -- messages ---------------------------------------------------------------
    def incoming(self, message: dict[str, Any]) -> None:
        self.seen.append(message)
        method, params = message.get("method"), message.get("params")
        if method is not None and "id" in message:
            self._request(str(method), params or {})
        elif method is not None:
            self._notification(str(method), params or {})
        elif "result" in message:
            answered = self._sent.get(message.get("id"), "")
            self.answered.append(answered)
            self._result(answered, message["result"])

    def _request(self, method: str, params: dict[str, Any]) -> None:
        if method == "window/workDoneProgress/create":
            self._need("window.workDoneProgress", method)
            self._tokens.add(params.get("token"))
        elif method == "workspace/applyEdit":
            self._need("workspace.applyEdit", method)
            self.edit(method, params.get("edit") or {})
        elif method == "window/showDocument":
            self._need("window.showDocument.support", method)
        elif method == "workspace/configuration":
            self._need("workspace.configuration", method)
        elif method == "workspace/workspaceFolders":
            self._need("workspace.workspaceFolders", method)
        elif method in ("client/registerCapability", "client/unregisterCapability"):
            key = "registrations" if method == "client/registerCapability" else "unregisterations"
            for registration in params.get(key) or []:
                section, _, feature = str(registration.get("method", "")).partition("/")
                self._need(f"{section}.{feature}.dynamicRegistration", f"{method} {registration.get('method')}")
        elif method in _REFRESH:
            self._need(_REFRESH[method], method)
        elif method == "window/showMessageRequest":
            for item in params.get("actions") or []:
                if set(item) - {"title"}:
                    self._need("window.showMessage.messageActionItem.additionalPropertiesSupport", method)
        else:
            self.problems.append(f"a server request the checker does not know: {method}")

    def _notification(self, method: str, params: dict[str, Any]) -> None:
        if method == "$/progress":
            if params.get("token") not in self._tokens:
                self.problems.append(f"$/progress on a token the client did not create: {params.get('token')!r}")
        elif method == "textDocument/publishDiagnostics":
            support = "textDocument.publishDiagnostics"
            if params.get("version") is not None:
                self._need(f"{support}.versionSupport", "a diagnostics version")
            for diagnostic in params.get("diagnostics") or []:
                for key, path in (
                    ("data", "dataSupport"),
                    ("codeDescription", "codeDescriptionSupport"),
                    ("tags", "tagSupport"),
                    ("relatedInformation", "relatedInformation"),
                ):
                    if diagnostic.get(key) is not None:
                        self._need(f"{support}.{path}", f"a diagnostic's {key}")
        elif method not in _FREE_NOTIFICATIONS:
            self.problems.append(f"a server notification the checker does not know: {method}")

    def _result(self, method: str, result: Any) -> None:
        if method == "initialize":
            self._initialize(result)
        elif method == "textDocument/hover" and result:
            self.markup("hover", result.get("contents"), "textDocument.hover.contentFormat")
        elif method == "textDocument/completion" and result:
            self._completion(result)
        elif method == "textDocument/codeAction" and result:
            for action in result:
                self._code_action(action)
        elif method == "codeAction/resolve" and result:
            self._need("textDocument.codeAction.resolveSupport", "a codeAction/resolve answer")
            if result.get("edit"):
                self.edit("a resolved code action", result["edit"])

    # -- parts ---------------------------------------------------------------
    def markup(self, where: str, content: Any, formats_path: str) -> None:
        """Hover contents / documentation: Markdown only when listed, plain text free of Markdown syntax."""
        formats = self.declared(formats_path) or []
        if content is None:
            return
        if isinstance(content, dict) and content.get("kind") == "plaintext":
            if MARKDOWN_SYNTAX.search(str(content.get("value", ""))):
                self.problems.append(f"{where}: Markdown syntax sent as plain text: {content.get('value')!r}")
            return
        if isinstance(content, str) and where.endswith("documentation"):
            return  # a plain string documentation is plain text
        if "markdown" not in formats:  # MarkupContent markdown, a MarkedString or a list of them
            self.problems.append(f"{where}: Markdown for a client whose {formats_path} is {formats}")

    def _initialize(self, result: dict[str, Any]) -> None:
        capabilities = result.get("capabilities") or {}
        sync = capabilities.get("textDocumentSync")
        save = sync.get("save") if isinstance(sync, dict) else None
        if isinstance(save, dict) and set(save) - {"includeText"}:
            self.problems.append(f"textDocumentSync.save is not SaveOptions: {save}")
        encoding = capabilities.get("positionEncoding")
        offered = self.declared("general.positionEncodings") or ["utf-16"]
        if encoding is not None and encoding not in [*offered, "utf-16"]:
            self.problems.append(f"position encoding {encoding} not offered ({offered})")

    def _completion(self, result: Any) -> None:
        items = result if isinstance(result, list) else result.get("items") or []
        base = "textDocument.completion"
        defaults = {} if isinstance(result, list) else result.get("itemDefaults") or {}
        listed = self.declared(f"{base}.completionList.itemDefaults") or []
        for key in defaults:
            if key not in listed:
                self.problems.append(f"completion itemDefaults.{key} not in {base}.completionList.itemDefaults")
        modes = (self.declared(f"{base}.completionItem.insertTextModeSupport") or {}).get("valueSet") or []
        for item in items:
            if item.get("insertTextFormat") == types.InsertTextFormat.Snippet.value:
                self._need(f"{base}.completionItem.snippetSupport", "a snippet completion")
            edit = item.get("textEdit") or {}
            if "insert" in edit or "replace" in edit:
                self._need(f"{base}.completionItem.insertReplaceSupport", "an InsertReplaceEdit")
            if item.get("labelDetails") is not None:
                self._need(f"{base}.completionItem.labelDetailsSupport", "completion labelDetails")
            if item.get("insertTextMode") is not None and item["insertTextMode"] not in modes:
                self.problems.append(f"insertTextMode {item['insertTextMode']} not in {modes}")
            if item.get("textEditText") is not None and "editRange" not in listed:
                self.problems.append("completion textEditText without itemDefaults.editRange")
            documentation = item.get("documentation")
            if documentation is not None:
                formats = f"{base}.completionItem.documentationFormat"
                self.markup("completion documentation", documentation, formats)

    def _code_action(self, action: dict[str, Any]) -> None:
        base = "textDocument.codeAction"
        if isinstance(action.get("command"), str):  # a bare Command
            return
        self._need(f"{base}.codeActionLiteralSupport", f"the code action {action.get('title')!r} as a literal")
        if action.get("data") is not None:
            self._need(f"{base}.dataSupport", f"the code action {action.get('title')!r} with data")
        if action.get("edit") is None and action.get("command") is None:
            properties = self.declared(f"{base}.resolveSupport.properties") or []
            if "edit" not in properties:
                self.problems.append(f"the code action {action.get('title')!r} needs resolve for its edit")
        if action.get("isPreferred") is not None:
            self._need(f"{base}.isPreferredSupport", "isPreferred")
        if action.get("disabled") is not None:
            self._need(f"{base}.disabledSupport", "a disabled code action")
        kinds = (self.declared(f"{base}.codeActionLiteralSupport.codeActionKind") or {}).get("valueSet") or []
        kind = action.get("kind")
        if kind and not any(kind == k or kind.startswith(k + ".") for k in kinds if k):
            self.problems.append(f"code action kind {kind!r} not in {kinds}")
        if action.get("edit") is not None:
            self.edit(f"the code action {action.get('title')!r}", action["edit"])

    def edit(self, where: str, edit: dict[str, Any]) -> None:
        """A ``WorkspaceEdit``'s shape against ``workspace.workspaceEdit``."""
        base = "workspace.workspaceEdit"
        if edit.get("changeAnnotations") is not None:
            self._need(f"{base}.changeAnnotationSupport", f"{where}: change annotations")
        changes = edit.get("documentChanges")
        text_edits = [e for edits in (edit.get("changes") or {}).values() for e in edits]
        if changes is not None:
            self._need(f"{base}.documentChanges", f"{where}: documentChanges")
            operations = self.declared(f"{base}.resourceOperations") or []
            for change in changes:
                kind = change.get("kind")
                if kind in _RESOURCE_KINDS and kind not in operations:
                    self.problems.append(f"{where}: a {kind} operation not in {base}.resourceOperations {operations}")
                text_edits += change.get("edits") or []
        for text_edit in text_edits:
            if "annotationId" in text_edit:
                self._need(f"{base}.changeAnnotationSupport", f"{where}: an annotated edit")
            if "snippet" in text_edit:
                self._need(f"{base}.snippetEditSupport", f"{where}: a snippet edit")
