"""Per-language facts about syntax trees that queries cannot express.

Which node types are function-like or class-like units, which wrap a
definition (``export``, decorators, templates), which are transparent
containers (namespaces), which are blocks, how a line comment starts, which
names are built in, and how deep the index looks for definitions.
(How names resolve across files is per language in :mod:`.resolve`.)
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, replace


def _words(text: str) -> list[str]:
    """Whitespace-separated names (keeps long name lists compact)."""
    return text.split()


@dataclass(frozen=True, slots=True)
class LanguageSpec:
    """Syntax facts of one tree-sitter language."""

    name: str
    function_types: frozenset[str]
    class_types: frozenset[str]
    line_comment: str
    wrapper_types: frozenset[str] = frozenset()
    container_types: frozenset[str] = frozenset()
    body_fields: tuple[str, ...] = ("body",)
    body_types: frozenset[str] = frozenset()
    block_types: frozenset[str] = frozenset()
    builtins: frozenset[str] = frozenset()
    indent_blocks: bool = False
    index_depth: int = 5


_JS_GLOBALS = frozenset(
    _words(
        """
    Array ArrayBuffer AbortController Atomics BigInt Boolean Buffer DataView Date Error
    EvalError Event EventTarget FormData Function Headers Infinity Intl JSON Map Math NaN
    Number Object Promise Proxy RangeError ReferenceError Reflect RegExp Request Response
    Set SharedArrayBuffer String Symbol SyntaxError TextDecoder TextEncoder TypeError
    URIError URL URLSearchParams Uint8Array Int32Array Float64Array WeakMap WeakSet WeakRef
    alert arguments atob btoa clearInterval clearTimeout console crypto decodeURI
    decodeURIComponent document encodeURI encodeURIComponent exports fetch globalThis
    isFinite isNaN localStorage location module navigator parseFloat parseInt performance
    process queueMicrotask require sessionStorage setInterval setTimeout structuredClone
    undefined window __dirname __filename HTMLElement Element Node Awaited Partial Required
    Readonly Record Pick Omit Exclude Extract NonNullable Parameters ReturnType InstanceType
    ReadonlyArray PromiseLike Iterable Iterator AsyncIterable AsyncIterator Generator
    ArrayLike PropertyKey Uppercase Lowercase Capitalize Uncapitalize React JSX
        """
    )
)
_GO_BUILTINS = frozenset(
    _words(
        """
    any append bool byte cap clear close comparable complex complex128 complex64 copy delete
    error false float32 float64 imag int int16 int32 int64 int8 iota len make max min new
    nil panic print println real recover rune string true uint uint16 uint32 uint64 uint8
    uintptr
        """
    )
)
_RUST_BUILTINS = frozenset(
    _words(
        """
    Option Some None Result Ok Err Vec String Box Self ToString ToOwned Clone Copy Send Sync
    Sized Drop Fn FnMut FnOnce Iterator IntoIterator Extend Default Eq PartialEq Ord
    PartialOrd AsRef AsMut Into From TryFrom TryInto Debug Display Hash drop println print
    eprintln eprint format vec panic assert assert_eq assert_ne debug_assert unreachable
    todo unimplemented write writeln matches dbg self std core alloc
        """
    )
)
_JAVA_BUILTINS = frozenset(
    _words(
        """
    Object String Integer Long Double Float Boolean Character Byte Short Math System
    Exception RuntimeException Throwable Error Thread Runnable Iterable Comparable
    CharSequence StringBuilder Override Deprecated SuppressWarnings FunctionalInterface
    Class Void Number Enum Record IllegalArgumentException IllegalStateException
    NullPointerException UnsupportedOperationException IndexOutOfBoundsException
    ClassCastException ArithmeticException AutoCloseable Cloneable InterruptedException
    SafeVarargs StrictMath Process ProcessBuilder Runtime ThreadLocal var
        """
    )
)
_KOTLIN_BUILTINS = frozenset(
    _words(
        """
    Any Unit Nothing String Int Long Double Float Boolean Char Byte Short Array List
    MutableList Map MutableMap Set MutableSet Pair Triple println print listOf mutableListOf
    mapOf mutableMapOf setOf mutableSetOf arrayOf emptyList emptyMap emptySet require check
    error lazy also apply let run with takeIf repeat TODO Exception RuntimeException
    IllegalArgumentException IllegalStateException Throwable it this
        """
    )
)
_CSHARP_BUILTINS = frozenset(
    _words(
        """
    Console String Object Int32 Int64 Double Boolean Math Exception ArgumentException
    InvalidOperationException NotImplementedException List Dictionary HashSet IEnumerable
    IList IDictionary Task ValueTask Func Action Nullable DateTime TimeSpan Guid var nameof
    dynamic Span Array Enumerable StringBuilder
        """
    )
)
_RUBY_BUILTINS = frozenset(
    _words(
        """
    puts print p pp require require_relative load raise attr_accessor attr_reader
    attr_writer include extend prepend lambda proc loop private public protected
    module_function define_method Kernel Object String Integer Float Array Hash Symbol
    StandardError ArgumentError RuntimeError NotImplementedError Struct Comparable
    Enumerable nil true false self super yield block_given? format sprintf gets rand sleep
    Time File Dir IO Math JSON
        """
    )
)
_PHP_BUILTINS = frozenset(
    _words(
        """
    array_map array_filter array_keys array_values array_merge count strlen str_replace
    sprintf printf echo print isset empty unset implode explode in_array json_encode
    json_decode var_dump trim strtolower strtoupper substr strpos is_null is_array Exception
    RuntimeException InvalidArgumentException DateTime self static parent stdClass Closure
    Throwable __DIR__ __FILE__ __CLASS__ __FUNCTION__ __LINE__ true false null
        """
    )
)


_PYTHON_BUILTINS = frozenset(dir(builtins)) | {"self", "cls", "__name__", "__file__", "__doc__"}


_C_FAMILY_BLOCKS = frozenset({"compound_statement", "field_declaration_list", "declaration_list", "enumerator_list"})

SPECS: dict[str, LanguageSpec] = {
    "python": LanguageSpec(
        name="python",
        function_types=frozenset({"function_definition"}),
        class_types=frozenset({"class_definition"}),
        line_comment="#",
        wrapper_types=frozenset({"decorated_definition"}),
        block_types=frozenset({"block"}),
        index_depth=4,
        builtins=_PYTHON_BUILTINS,
        indent_blocks=True,
    ),
    "javascript": LanguageSpec(
        name="javascript",
        function_types=frozenset(
            {
                "function_declaration",
                "generator_function_declaration",
                "function_expression",
                "generator_function",
                "arrow_function",
                "method_definition",
            }
        ),
        class_types=frozenset({"class_declaration", "class"}),
        line_comment="//",
        wrapper_types=frozenset({"export_statement"}),
        block_types=frozenset({"statement_block", "class_body", "object", "switch_body"}),
        index_depth=4,
        builtins=_JS_GLOBALS,
    ),
    "go": LanguageSpec(
        name="go",
        function_types=frozenset({"function_declaration", "method_declaration", "func_literal"}),
        class_types=frozenset({"type_declaration"}),
        line_comment="//",
        block_types=frozenset({"block", "field_declaration_list", "interface_type", "literal_value"}),
        builtins=_GO_BUILTINS,
        index_depth=3,
    ),
    "rust": LanguageSpec(
        name="rust",
        function_types=frozenset({"function_item", "closure_expression"}),
        class_types=frozenset({"impl_item", "trait_item", "struct_item", "enum_item"}),
        line_comment="//",
        container_types=frozenset({"mod_item"}),
        block_types=frozenset({"block", "declaration_list", "field_declaration_list", "enum_variant_list"}),
        builtins=_RUST_BUILTINS,
    ),
    "java": LanguageSpec(
        name="java",
        function_types=frozenset({"method_declaration", "constructor_declaration", "compact_constructor_declaration"}),
        class_types=frozenset(
            {
                "class_declaration",
                "interface_declaration",
                "enum_declaration",
                "record_declaration",
                "annotation_type_declaration",
            }
        ),
        line_comment="//",
        block_types=frozenset({"block", "class_body", "interface_body", "enum_body", "constructor_body"}),
        builtins=_JAVA_BUILTINS,
    ),
    "c": LanguageSpec(
        name="c",
        function_types=frozenset({"function_definition"}),
        class_types=frozenset({"struct_specifier", "union_specifier", "enum_specifier"}),
        line_comment="//",
        block_types=_C_FAMILY_BLOCKS,
        builtins=frozenset({"NULL", "size_t", "bool", "true", "false"}),
        index_depth=4,
    ),
    "csharp": LanguageSpec(
        name="csharp",
        function_types=frozenset(
            {
                "method_declaration",
                "constructor_declaration",
                "local_function_statement",
                "accessor_declaration",
            }
        ),
        class_types=frozenset(
            {
                "class_declaration",
                "struct_declaration",
                "interface_declaration",
                "enum_declaration",
                "record_declaration",
            }
        ),
        line_comment="//",
        container_types=frozenset({"namespace_declaration"}),
        block_types=frozenset({"block", "declaration_list", "accessor_list"}),
        builtins=_CSHARP_BUILTINS,
        index_depth=6,
    ),
    "ruby": LanguageSpec(
        name="ruby",
        function_types=frozenset({"method", "singleton_method"}),
        class_types=frozenset({"class", "module", "singleton_class"}),
        line_comment="#",
        block_types=frozenset({"body_statement", "do_block", "block"}),
        builtins=_RUBY_BUILTINS,
    ),
    "php": LanguageSpec(
        name="php",
        function_types=frozenset({"function_definition", "method_declaration", "anonymous_function", "arrow_function"}),
        class_types=frozenset({"class_declaration", "interface_declaration", "trait_declaration", "enum_declaration"}),
        line_comment="//",
        container_types=frozenset({"namespace_definition"}),
        block_types=frozenset({"compound_statement", "declaration_list"}),
        builtins=_PHP_BUILTINS,
    ),
    "kotlin": LanguageSpec(
        name="kotlin",
        function_types=frozenset({"function_declaration", "anonymous_function"}),
        class_types=frozenset({"class_declaration", "object_declaration", "companion_object"}),
        line_comment="//",
        body_types=frozenset({"class_body", "function_body", "enum_class_body"}),
        block_types=frozenset({"class_body", "function_body", "statements", "enum_class_body"}),
        builtins=_KOTLIN_BUILTINS,
    ),
}

_ts = SPECS["javascript"]
SPECS["typescript"] = LanguageSpec(
    name="typescript",
    function_types=_ts.function_types | {"function_signature"},
    class_types=_ts.class_types | {"abstract_class_declaration", "interface_declaration", "enum_declaration"},
    line_comment="//",
    wrapper_types=frozenset({"export_statement", "ambient_declaration"}),
    container_types=frozenset({"internal_module", "module"}),
    block_types=_ts.block_types | {"interface_body", "object_type", "enum_body"},
    builtins=_JS_GLOBALS,
    index_depth=4,
)
SPECS["tsx"] = replace(SPECS["typescript"], name="tsx")
_c = SPECS["c"]
SPECS["cpp"] = LanguageSpec(
    name="cpp",
    function_types=_c.function_types | {"lambda_expression"},
    class_types=_c.class_types | {"class_specifier"},
    line_comment="//",
    wrapper_types=frozenset({"template_declaration"}),
    container_types=frozenset({"namespace_definition", "linkage_specification"}),
    block_types=_C_FAMILY_BLOCKS,
    builtins=_c.builtins | {"std", "nullptr", "this"},
    index_depth=6,
)


def spec_for(language: str) -> LanguageSpec:
    """The :class:`LanguageSpec` of a supported language (``KeyError`` otherwise)."""
    return SPECS[language]
