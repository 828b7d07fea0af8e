"""Errors users fix themselves; the CLI prints them as one line and exits non-zero."""


class CodeflowError(Exception):
    """A usage or environment problem (bad path, conflicting output), not a data problem."""
