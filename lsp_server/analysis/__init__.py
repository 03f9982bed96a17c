"""Code analysis with tree-sitter: documents, workspace index, scope and context.

Pure tree-sitter: nothing here imports pygls, lsprotocol, ``routing`` or
``inference``. The language server calls, per module:

* :mod:`.documents` -- :class:`~.documents.Document` (text + incremental tree,
  LSP position conversion) and :class:`~.documents.DocumentStore`;
* :mod:`.index` -- :class:`~.index.WorkspaceIndex`, built in the background,
  persisted (:mod:`.cache`), kept fresh by file events;
* :mod:`.scope` -- :func:`~.scope.measure_scope` -> :class:`~.scope.ScopeReport`;
* :mod:`.context` -- :func:`~.context.assemble_context` -> :class:`~.context.AssembledContext`;
* :mod:`.completion` -- :func:`~.completion.trim_completion`, multi-line decisions;
* :mod:`.settings`, :mod:`.tasks`, :mod:`.paths`, :mod:`.positions`, :mod:`.tokens`.

Internals: :mod:`.languages` and :mod:`.langspec` (grammars, queries in
``queries/<language>.scm``, per-language facts), :mod:`.extract`,
:mod:`.imports`, :mod:`.nodes`, :mod:`.symbols` (index contents),
:mod:`.discovery` (which files), :mod:`.worker` (process-pool task),
:mod:`.docanalysis` and :mod:`.units` (what a unit binds and references),
:mod:`.resolve` (import resolution per language), :mod:`.projectconfig`.

Importing this package has no side effects: grammars and queries load on
first use.
"""
