"""CLI: help on every command, one-line errors with non-zero exit, summary at the end."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeflow.cli import COMMANDS

from .helpers import write_corpus


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_on_every_command(cli, command: str) -> None:
    code, output = cli(command, "--help")
    assert code == 0 and "Usage:" in output


def test_missing_input_is_one_line_error(cli, tmp_path: Path) -> None:
    code, output = cli("dedup", "--exact", "--input", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    assert code != 0
    assert output.strip().splitlines() == [f"error: input path does not exist: {tmp_path / 'nope'}"]


def test_bad_flag_is_one_line_error(cli) -> None:
    code, output = cli("dedup", "--no-such-flag")
    assert code == 2 and len(output.strip().splitlines()) == 1 and output.startswith("error:")


def test_unknown_command(cli) -> None:
    code, output = cli("frobnicate")
    assert code == 2 and output.startswith("error:")


def test_dedup_prints_summary(cli, tmp_path: Path) -> None:
    write_corpus(tmp_path / "in", n_files=2, per_file=10, dup_rate=0.5)
    code, output = cli("--quiet", "dedup", "--exact", "--input", str(tmp_path / "in"), "--out", str(tmp_path / "o"))
    assert code == 0
    assert "codeflow summary" in output and "dedup_exact" in output and "exact_duplicate" in output
