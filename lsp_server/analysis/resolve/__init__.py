"""Import and name resolution, one resolver per language family.

:func:`resolver_for` picks the resolver of a document's language; every
resolver answers with :class:`~.base.Resolution` values.
"""

from __future__ import annotations

from lsp_server.analysis.projectconfig import ConfigCache
from lsp_server.analysis.resolve.base import (
    LOCAL,
    UNRESOLVED,
    Resolution,
    ResolutionKind,
    ResolveContext,
    Resolver,
    external,
)
from lsp_server.analysis.resolve.cfamily import CFamilyResolver
from lsp_server.analysis.resolve.dynamic import CSharpResolver, PhpResolver, RubyResolver
from lsp_server.analysis.resolve.ecmascript import EcmaScriptResolver
from lsp_server.analysis.resolve.golang import GoResolver
from lsp_server.analysis.resolve.jvm import JvmResolver
from lsp_server.analysis.resolve.python import PythonResolver
from lsp_server.analysis.resolve.rust import RustResolver

__all__ = [
    "LOCAL",
    "UNRESOLVED",
    "ConfigCache",
    "Resolution",
    "ResolutionKind",
    "ResolveContext",
    "Resolver",
    "external",
    "resolver_for",
]


def resolver_for(ctx: ResolveContext, package: str = "") -> Resolver:
    """The resolver for ``ctx.language``; ``package`` is the document's package/namespace."""
    language = ctx.language
    if language == "python":
        return PythonResolver(ctx)
    if language in {"javascript", "typescript", "tsx"}:
        return EcmaScriptResolver(ctx)
    if language == "go":
        return GoResolver(ctx)
    if language == "rust":
        return RustResolver(ctx)
    if language == "java":
        return JvmResolver(ctx, package, (".java",))
    if language == "kotlin":
        return JvmResolver(ctx, package, (".kt", ".kts", ".java"))
    if language in {"c", "cpp"}:
        return CFamilyResolver(ctx)
    if language == "csharp":
        return CSharpResolver(ctx, package)
    if language == "php":
        return PhpResolver(ctx, package)
    if language == "ruby":
        return RubyResolver(ctx)
    return Resolver(ctx)
