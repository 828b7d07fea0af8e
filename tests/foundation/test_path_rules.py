"""Code validation and commit mining call the same files noise (one home: ``codeflow.pathrules``)."""

from __future__ import annotations

import pytest

from codeflow.code.validate import validate_file
from codeflow.commits.paths import NOISE, classify, is_lfs_pointer

NOISE_PATHS = ["deps/lib/x.py", "vendors/x.py", "external/a.py", "vendored/x.py", ".venv/lib/x.py",
               "web/node_modules/a/b.js", "3rdparty/x.py", "packages.lock.json", "npm-shrinkwrap.json",
               "package-lock.json", "static/app.min.js", "proto/x_pb2_grpc.py", "src/ui.generated.ts"]


@pytest.mark.parametrize("path", NOISE_PATHS)
def test_noise_for_one_is_noise_for_the_other(path: str) -> None:
    verdict = validate_file(path, b"x = 1\n", 6)
    assert classify(path) in NOISE
    assert verdict.reason in ("vendored", "generated"), (path, verdict)


def test_a_source_file_is_noise_for_neither() -> None:
    assert classify("src/app.py") == "source" and validate_file("src/app.py", b"x = 1\n", 6).reason is None


def test_lfs_pointers_are_recognised_alike() -> None:
    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\nsize 123\n"
    assert is_lfs_pointer(pointer)
    assert validate_file("model.py", pointer, len(pointer)).reason == "lfs_pointer"
