"""Code ingestion: the language registry, tree-sitter validation and metrics, quality heuristics."""
