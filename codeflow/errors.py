"""Errors users fix themselves; the CLI prints them as one line and exits with the error's ``exit_code``."""

from typing import ClassVar


class CodeflowError(Exception):
    """A usage or environment problem (bad path, conflicting output), not a data problem: exit code 2, like
    click's own usage errors."""

    exit_code: ClassVar[int] = 2
