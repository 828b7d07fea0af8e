"""The language registry: path / file name / shebang -> language, its tree-sitter grammar, its FIM node types.

One table that every code stage shares (validation, FIM splitting, triplet mining), so "which language is this
file" and "where are the statement boundaries" have one answer in the whole pipeline.

Grammars come from modern tree-sitter (0.26) grammar *wheels* where one is installed (``tree-sitter-python``,
``-java``, ``-javascript``, ``-typescript``, ``-go``, ``-rust``, ``-cpp``, ``-c-sharp``: the node-type names in
``fim_node_types`` were checked against exactly these), and from ``tree-sitter-language-pack`` 0.13 for the rest
(it bundles ~170 compiled grammars offline; >= 1.0 downloads them at run time, and the older
``tree-sitter-languages`` only works with tree-sitter 0.21). Every node type named here is checked against its
grammar by the tests (``Language.id_for_node_kind``), so a grammar upgrade that renames a node fails loudly.

API (kept small on purpose):

- ``LANGUAGES: dict[str, LanguageSpec]`` — the registry, keyed by language name.
- ``language_for_path(path, first_line=None) -> str | None`` — file name, then extension, then shebang.
- ``get_parser(name) -> tree_sitter.Parser`` and ``get_language(name)`` — cached per process; parsers are
  created lazily so stages stay picklable and workers only load the grammars they meet. ``grammar_binding(name)``
  is the grammar's ``TSLanguage*`` capsule (for the C extension).
- ``LanguageSpec.fim_node_types[level]`` for level in ``FIM_LEVELS`` = ("expression", "statement", "function").
"""

from __future__ import annotations

import importlib
import posixpath
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from tree_sitter import Language, Parser

FIM_LEVELS: tuple[str, ...] = ("expression", "statement", "function")
Kind = Literal["programming", "data", "markup"]


@dataclass(frozen=True)
class LanguageSpec:
    """One registry entry.

    ``grammar`` is either ``"wheel:<module>:<function>"`` (a per-language grammar wheel) or the name of a
    grammar in tree-sitter-language-pack. ``fim_node_types`` maps each FIM level to the node types whose spans
    make a good middle at that level; the function level doubles as the "function count" metric (functions,
    methods, classes, closures). ``kind`` separates programming languages from data / markup formats, which
    get stricter data-like heuristics. ``fallback`` names a language to try when this grammar reports a syntax
    error (``.h`` is C or C++; a C++ header parsed with the C grammar is not broken, it is C++), and
    ``fallback_for`` the file extensions it is tried for (``""``: no extension, e.g. a fenced code block
    labelled ``c``). A ``.c`` file is C: one that the C grammar rejects is not parsed a second time as C++.
    ``final_newline``: the grammar needs the last line ended (make, dockerfile: a recipe or instruction is a
    line), so validation parses such a file with ``\n`` appended when it lacks one.
    """

    name: str
    grammar: str
    extensions: tuple[str, ...]
    filenames: tuple[str, ...] = ()
    interpreters: tuple[str, ...] = ()
    fim_node_types: MappingProxyType = field(default_factory=lambda: MappingProxyType({}), hash=False)
    kind: Kind = "programming"
    fallback: str | None = None
    fallback_for: tuple[str, ...] = ()
    final_newline: bool = False

    def may_fall_back(self, path: str) -> bool:
        """Whether ``fallback`` is tried for this path (its extension, lower-cased, split as ``language_for_path``)."""
        ext = posixpath.splitext(posixpath.basename(path.replace("\\", "/")))[1]
        return self.fallback is not None and ext.lower() in self.fallback_for


def _spec(name: str, grammar: str, extensions: tuple[str, ...], *, filenames: tuple[str, ...] = (),
          interpreters: tuple[str, ...] = (), function: str = "", statement: str = "", expression: str = "",
          kind: Kind = "programming", fallback: str | None = None,
          fallback_for: tuple[str, ...] = (), final_newline: bool = False) -> LanguageSpec:
    levels = {"expression": frozenset(expression.split()), "statement": frozenset(statement.split()),
              "function": frozenset(function.split())}
    return LanguageSpec(name, grammar, extensions, filenames, interpreters, MappingProxyType(levels), kind, fallback,
                        fallback_for, final_newline)


_JS_FUNCTION = "function_declaration generator_function_declaration method_definition arrow_function " \
               "function_expression class_declaration"
_JS_STATEMENT = "lexical_declaration variable_declaration expression_statement if_statement for_statement " \
                "for_in_statement while_statement do_statement try_statement return_statement throw_statement " \
                "switch_statement import_statement export_statement"
_JS_EXPRESSION = "call_expression member_expression subscript_expression binary_expression assignment_expression " \
                 "augmented_assignment_expression new_expression template_string arguments ternary_expression " \
                 "await_expression"
_TS_FUNCTION = _JS_FUNCTION + " interface_declaration type_alias_declaration abstract_class_declaration " \
                              "enum_declaration"
_TS_STATEMENT = _JS_STATEMENT + " public_field_definition"
_TS_EXPRESSION = _JS_EXPRESSION + " type_annotation as_expression"
_C_STATEMENT = "declaration expression_statement if_statement for_statement while_statement do_statement " \
               "return_statement compound_statement switch_statement preproc_include"
_C_EXPRESSION = "call_expression assignment_expression binary_expression field_expression update_expression " \
                "argument_list subscript_expression conditional_expression"

_SPECS: tuple[LanguageSpec, ...] = (
    _spec("python", "wheel:tree_sitter_python:language", (".py", ".pyw", ".pyi"),
          filenames=("SConstruct", "SConscript"), interpreters=("python", "pypy"),
          function="function_definition class_definition lambda",
          statement="expression_statement return_statement if_statement for_statement while_statement "
                    "try_statement with_statement raise_statement import_statement import_from_statement "
                    "assert_statement",
          expression="call binary_operator boolean_operator comparison_operator attribute subscript "
                     "list_comprehension dictionary_comprehension lambda argument_list keyword_argument "
                     "assignment augmented_assignment"),
    _spec("java", "wheel:tree_sitter_java:language", (".java",),
          function="method_declaration constructor_declaration class_declaration interface_declaration "
                   "enum_declaration record_declaration lambda_expression",
          statement="local_variable_declaration expression_statement if_statement for_statement "
                    "enhanced_for_statement while_statement try_statement return_statement throw_statement "
                    "field_declaration import_declaration switch_expression",
          expression="method_invocation binary_expression assignment_expression object_creation_expression "
                     "field_access array_access lambda_expression update_expression ternary_expression"),
    _spec("javascript", "wheel:tree_sitter_javascript:language", (".js", ".mjs", ".cjs", ".jsx"),
          interpreters=("node", "nodejs"),
          function=_JS_FUNCTION, statement=_JS_STATEMENT, expression=_JS_EXPRESSION),
    _spec("typescript", "wheel:tree_sitter_typescript:language_typescript", (".ts", ".mts", ".cts"),
          interpreters=("ts-node", "deno", "tsx"),
          function=_TS_FUNCTION, statement=_TS_STATEMENT, expression=_TS_EXPRESSION),
    _spec("tsx", "wheel:tree_sitter_typescript:language_tsx", (".tsx",),
          function=_TS_FUNCTION, statement=_TS_STATEMENT, expression=_TS_EXPRESSION + " jsx_element"),
    _spec("go", "wheel:tree_sitter_go:language", (".go",),
          function="function_declaration method_declaration func_literal type_declaration",
          statement="short_var_declaration var_declaration assignment_statement expression_statement if_statement "
                    "for_statement expression_switch_statement return_statement defer_statement inc_statement "
                    "import_declaration go_statement",
          expression="call_expression selector_expression binary_expression composite_literal index_expression "
                     "argument_list unary_expression"),
    _spec("rust", "wheel:tree_sitter_rust:language", (".rs",),
          function="function_item impl_item closure_expression struct_item enum_item trait_item",
          statement="let_declaration expression_statement if_expression for_expression while_expression "
                    "loop_expression match_expression use_declaration",
          expression="call_expression field_expression binary_expression compound_assignment_expr "
                     "macro_invocation index_expression return_expression range_expression reference_expression"),
    _spec("c", "language-pack:c", (".c", ".h"), fallback="cpp", fallback_for=(".h", ""),
          function="function_definition struct_specifier",
          statement=_C_STATEMENT, expression=_C_EXPRESSION),
    _spec("cpp", "wheel:tree_sitter_cpp:language",
          (".cpp", ".cc", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++", ".ipp", ".tpp", ".inl"),
          function="function_definition class_specifier struct_specifier lambda_expression",
          statement=_C_STATEMENT + " for_range_loop using_declaration",
          expression=_C_EXPRESSION),
    _spec("csharp", "wheel:tree_sitter_c_sharp:language", (".cs",),
          function="method_declaration constructor_declaration class_declaration interface_declaration "
                   "struct_declaration record_declaration lambda_expression local_function_statement",
          statement="local_declaration_statement expression_statement if_statement for_statement "
                    "foreach_statement while_statement try_statement return_statement throw_statement "
                    "using_directive field_declaration",
          expression="invocation_expression member_access_expression binary_expression assignment_expression "
                     "object_creation_expression element_access_expression lambda_expression argument_list"),
    _spec("cuda", "language-pack:cuda", (".cu", ".cuh"),
          function="function_definition struct_specifier class_specifier",
          statement=_C_STATEMENT, expression=_C_EXPRESSION),
    _spec("objc", "language-pack:objc", (".m",),
          function="function_definition class_interface class_implementation method_definition",
          statement="declaration expression_statement if_statement for_statement while_statement return_statement",
          expression="call_expression message_expression assignment_expression binary_expression"),
    _spec("ruby", "language-pack:ruby", (".rb", ".rake", ".gemspec"),
          filenames=("Rakefile", "Gemfile", "Guardfile", "Vagrantfile"), interpreters=("ruby",),
          function="method singleton_method class module lambda block do_block",
          statement="assignment if unless while until for return case begin",
          expression="call binary argument_list element_reference"),
    _spec("php", "language-pack:php", (".php",), interpreters=("php",),
          function="function_definition method_declaration class_declaration anonymous_function "
                   "arrow_function",
          statement="expression_statement if_statement for_statement foreach_statement while_statement "
                    "return_statement try_statement echo_statement",
          expression="function_call_expression member_call_expression binary_expression assignment_expression "
                     "object_creation_expression subscript_expression arguments"),
    _spec("kotlin", "language-pack:kotlin", (".kt", ".kts"),
          function="function_declaration class_declaration object_declaration lambda_literal",
          statement="property_declaration assignment if_expression for_statement while_statement",
          expression="call_expression navigation_expression additive_expression value_arguments"),
    _spec("scala", "language-pack:scala", (".scala", ".sc"),
          function="function_definition class_definition object_definition trait_definition lambda_expression",
          statement="val_definition var_definition if_expression for_expression while_expression",
          expression="call_expression field_expression infix_expression arguments"),
    _spec("swift", "language-pack:swift", (".swift",),
          function="function_declaration class_declaration protocol_declaration lambda_literal",
          statement="property_declaration if_statement for_statement while_statement guard_statement "
                    "control_transfer_statement",
          expression="call_expression navigation_expression additive_expression"),
    # zsh is not bash: its globbing and modifiers are syntax errors to the bash grammar, so .zsh stays unknown.
    _spec("bash", "language-pack:bash", (".sh", ".bash"),
          filenames=(".bashrc", ".bash_profile", ".profile"), interpreters=("bash", "sh", "dash"),
          function="function_definition",
          statement="command if_statement for_statement while_statement case_statement variable_assignment "
                    "pipeline",
          expression="command_substitution expansion arithmetic_expansion string"),
    _spec("lua", "language-pack:lua", (".lua",), interpreters=("lua", "luajit"),
          function="function_declaration function_definition",
          statement="variable_declaration assignment_statement if_statement for_statement while_statement "
                    "return_statement function_call",
          expression="function_call binary_expression dot_index_expression bracket_index_expression arguments"),
    _spec("haskell", "language-pack:haskell", (".hs",),
          function="function signature data_type class instance",
          statement="import bind",
          expression="apply infix lambda"),
    _spec("r", "language-pack:r", (".r", ".R"), interpreters=("Rscript",),
          function="function_definition",
          statement="if_statement for_statement while_statement",
          expression="call binary_operator arguments"),
    _spec("julia", "language-pack:julia", (".jl",), interpreters=("julia",),
          function="function_definition struct_definition module_definition macro_definition",
          statement="if_statement for_statement while_statement return_statement",
          expression="call_expression binary_expression assignment"),
    _spec("perl", "language-pack:perl", (".pl", ".pm"), interpreters=("perl",),
          function="subroutine_declaration_statement package_statement",
          statement="expression_statement conditional_statement for_statement loop_statement use_statement",
          expression="function_call_expression method_call_expression binary_expression assignment_expression"),
    _spec("dart", "language-pack:dart", (".dart",),
          function="function_signature method_signature class_definition",
          statement="local_variable_declaration expression_statement if_statement for_statement while_statement "
                    "return_statement",
          expression="assignment_expression additive_expression arguments"),
    _spec("elixir", "language-pack:elixir", (".ex", ".exs"), interpreters=("elixir",),
          function="do_block anonymous_function",
          statement="call",
          expression="binary_operator dot arguments"),
    _spec("zig", "language-pack:zig", (".zig",),
          function="FnProto Decl",
          statement="Statement VarDecl IfStatement ForStatement WhileStatement",
          expression="SuffixExpr FnCallArguments"),
    _spec("ocaml", "language-pack:ocaml", (".ml",),
          function="value_definition let_binding module_definition type_definition fun_expression",
          statement="let_expression if_expression match_expression",
          expression="application_expression infix_expression field_get_expression"),
    _spec("solidity", "language-pack:solidity", (".sol",),
          function="contract_declaration function_definition modifier_definition event_definition",
          statement="variable_declaration_statement expression_statement if_statement for_statement "
                    "return_statement emit_statement",
          expression="call_expression member_expression binary_expression assignment_expression"),
    _spec("sql", "language-pack:sql", (".sql",),
          function="create_table create_view create_function",
          statement="statement",
          expression="binary_expression invocation field"),
    _spec("json", "language-pack:json", (".json", ".jsonc", ".geojson", ".ipynb"), kind="data",
          function="object", statement="pair", expression="array string number"),
    _spec("yaml", "wheel:tree_sitter_yaml:language", (".yaml", ".yml"), kind="data",
          function="block_mapping", statement="block_mapping_pair block_sequence_item",
          expression="flow_mapping flow_sequence plain_scalar"),
    _spec("toml", "language-pack:toml", (".toml",), filenames=("Pipfile",), kind="data",
          function="table table_array_element", statement="pair", expression="array inline_table string"),
    _spec("html", "language-pack:html", (".html", ".htm", ".xhtml"), kind="markup",
          function="script_element style_element", statement="element", expression="attribute"),
    _spec("css", "language-pack:css", (".css",), kind="markup",
          function="rule_set media_statement", statement="declaration", expression="call_expression"),
    _spec("dockerfile", "language-pack:dockerfile", (".dockerfile",),
          filenames=("Dockerfile", "Containerfile"),
          function="from_instruction", statement="run_instruction copy_instruction env_instruction",
          expression="shell_command", final_newline=True),
    _spec("make", "language-pack:make", (".mk", ".mak"), filenames=("Makefile", "makefile", "GNUmakefile"),
          interpreters=("make",),
          function="rule", statement="recipe_line variable_assignment", expression="function_call",
          final_newline=True),
    _spec("cmake", "language-pack:cmake", (".cmake",), filenames=("CMakeLists.txt",),
          function="function_def macro_def", statement="normal_command if_condition foreach_loop",
          expression="argument_list"),
)

LANGUAGES: dict[str, LanguageSpec] = {s.name: s for s in _SPECS}

_BY_FILENAME: dict[str, str] = {fn: s.name for s in _SPECS for fn in s.filenames}
# Case-sensitive first (".R" vs ".r" both mean R; ".C" would be C++ in some trees), then lowercased.
_BY_EXT: dict[str, str] = {}
for _s in _SPECS:
    for _e in _s.extensions:
        _BY_EXT.setdefault(_e, _s.name)
        _BY_EXT.setdefault(_e.lower(), _s.name)
_BY_INTERPRETER: dict[str, str] = {i: s.name for s in _SPECS for i in s.interpreters}
_SHEBANG = re.compile(r"^#!\s*(\S+)(?:\s+(.*))?")
_VERSION_SUFFIX = re.compile(r"[\d.]+$")


def language_for_path(path: str, first_line: str | bytes | None = None) -> str | None:
    """The registry language of a file, or None when unknown.

    Order: exact file name (``Makefile``, ``CMakeLists.txt``), then extension (case-sensitive, then
    lowercased), then the shebang in ``first_line`` (``#!/usr/bin/env python3`` -> python) so extensionless
    scripts in ``bin/`` are not lost. A known extension wins over a shebang, as in GitHub linguist.
    """
    base = posixpath.basename(path.replace("\\", "/"))
    if base in _BY_FILENAME:
        return _BY_FILENAME[base]
    stem, ext = posixpath.splitext(base)
    if ext and stem:
        lang = _BY_EXT.get(ext) or _BY_EXT.get(ext.lower())
        if lang:
            return lang
    if first_line is not None:
        return language_for_shebang(first_line)
    return None


# Names other tools use for our languages (markdown fences, linguist, file-type columns) -> registry name.
LANGUAGE_ALIASES: dict[str, str | None] = {
    "py": "python", "python3": "python", "py3": "python", "pycon": "python", "ipython": "python",
    "ipython3": "python", "shell-session": "bash", "sh-session": "bash", "shellsession": "bash",
    "js": "javascript", "jsx": "javascript",
    "node": "javascript", "ts": "typescript", "c++": "cpp", "cxx": "cpp", "cc": "cpp", "hpp": "cpp",
    "c#": "csharp", "cs": "csharp", "c-sharp": "csharp", "golang": "go", "rs": "rust", "rb": "ruby",
    "kt": "kotlin", "objective-c": "objc", "objectivec": "objc", "shell": "bash", "sh": "bash",
    "console": None, "yml": "yaml", "jl": "julia", "pl": "perl", "ex": "elixir", "exs": "elixir", "ml": "ocaml",
    "sol": "solidity", "docker": "dockerfile", "makefile": "make", "hs": "haskell", "cu": "cuda", "htm": "html",
}


def normalize_language(name: str | None) -> str | None:
    """A registry name for a language label from elsewhere ("Python", "c++", "js"), or None if unknown."""
    if not name:
        return None
    key = name.strip().lower()
    if key in LANGUAGES:
        return key
    return LANGUAGE_ALIASES.get(key)


def language_for_shebang(first_line: str | bytes) -> str | None:
    """``#!/usr/bin/env -S python3 -u`` -> "python"; None when there is no known interpreter."""
    if isinstance(first_line, bytes):
        first_line = first_line.decode("utf-8", "replace")
    m = _SHEBANG.match(first_line.strip())
    if not m:
        return None
    prog = posixpath.basename(m.group(1))
    if prog == "env" and m.group(2):
        args = [a for a in m.group(2).split() if not a.startswith("-") and "=" not in a]
        if not args:
            return None
        prog = posixpath.basename(args[0])
    return _BY_INTERPRETER.get(prog) or _BY_INTERPRETER.get(_VERSION_SUFFIX.sub("", prog))


# Per-process caches: tree-sitter objects are not picklable, so each worker builds its own on first use.
_LANGUAGE_CACHE: dict[str, Language] = {}
_PARSER_CACHE: dict[str, Parser] = {}


def grammar_binding(name: str) -> object:
    """The grammar's ``tree_sitter.Language`` capsule (its ``TSLanguage*``), as its package exports it.

    Public API of the grammar packages (``tree_sitter_python.language()``, ``tree_sitter_language_pack
    .get_binding``); ``codeflow.code.native`` hands it to the C extension's own tree-sitter runtime.
    """
    kind, _, rest = LANGUAGES[name].grammar.partition(":")
    if kind == "wheel":
        module, func = rest.split(":")
        return getattr(importlib.import_module(module), func)()
    import tree_sitter_language_pack

    return tree_sitter_language_pack.get_binding(rest)


def get_language(name: str) -> Language:
    """The tree-sitter ``Language`` for a registry language (loaded once per process)."""
    lang = _LANGUAGE_CACHE.get(name)
    if lang is None:
        from tree_sitter import Language

        lang = _LANGUAGE_CACHE[name] = Language(grammar_binding(name))
    return lang


def get_parser(name: str) -> Parser:
    """A tree-sitter ``Parser`` for a registry language, cached per process (parsers are reusable)."""
    parser = _PARSER_CACHE.get(name)
    if parser is None:
        from tree_sitter import Parser

        parser = Parser(get_language(name))
        _PARSER_CACHE[name] = parser
    return parser


def comment_node_types(name: str) -> frozenset[str]:
    """Named node types of a grammar that are comments (``comment``, ``line_comment``, ``block_comment`` ...)."""
    lang = get_language(name)
    kinds = (lang.node_kind_for_id(i) or "" for i in range(lang.node_kind_count) if lang.node_kind_is_named(i))
    # Not comments: SQL's ``COMMENT ON`` statement and its keyword.
    return frozenset(k for k in kinds if "comment" in k and not k.endswith("_statement")
                     and not k.startswith("keyword_"))
