"""CLI subcommands, one module per stage."""
