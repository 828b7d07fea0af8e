"""Fill-in-the-middle sample construction at file and repository level.

Modules, one job each: ``tokens`` (the special tokens), ``splitters`` (char / line cuts), ``ast_split``
(tree-sitter node cuts per level), ``format`` (render and parse the two text formats), ``context`` (repo
context selection), ``sample`` (one file -> one record, deterministic per file id and seed), ``stage`` (the
map stage over code-file shards), ``report`` (HTML report).
"""
