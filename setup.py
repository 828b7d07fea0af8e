"""Maps the fixed top-level folders onto one import namespace, ``codeflow``, and builds the optional C extension.

The user fixed the layout (``codeflow/``, ``pipelines/``, ``classifiers/``, ``model/``) but we want one
namespace in site-packages, so ``pipelines/`` installs as ``codeflow.pipelines`` and so on. Sub-packages are
discovered here rather than listed in pyproject.toml, so adding a folder with an ``__init__.py`` is enough;
package data (``codeflow/data/**``: the demo's sample repository, Common Crawl records, the language-id model)
is declared as data of ``codeflow`` only (``include_package_data=False``: setuptools' manifest scan would warn
about every sample folder whose name is importable), and never discovered as packages.

``codeflow.code._native`` is the one C extension (parse + syntax-tree walk and line statistics of ``codeflow
code``). It uses only tree-sitter's public C API, compiled from the runtime source in the released sdist of
the pinned ``tree-sitter`` version: fetched at build time with pip (the user's index and proxy settings apply),
checked against its sha256, and never committed. ``CODEFLOW_TS_SDIST=/path/tree_sitter-X.tar.gz`` builds from a
local copy (offline). The extension is optional: without a C compiler or without the sdist the build skips it
and validation runs the Python code with the same results, only slower (``codeflow.code.native.status()``).
"""

import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, ExecError

ROOTS = {"codeflow": "codeflow", "codeflow.pipelines": "pipelines", "codeflow.classifiers": "classifiers",
         "codeflow.model": "model"}
DATA = "data"  # codeflow/data/: package data only, never packages (its sample code has __init__.py files)
# The tree-sitter runtime the extension is built from: the same version as the pinned py-tree-sitter
# (pyproject.toml), so both parse identically; codeflow.code.native refuses the extension when they differ.
TS_VERSION = "0.26.1"
TS_SDIST = f"tree_sitter-{TS_VERSION}.tar.gz"
TS_SDIST_SHA256 = "9919cbaf02d17fa9a4cd0e6da496aecf901b758e6eacf122eee393e3ef08aacd"
HERE = Path(__file__).resolve().parent


def _packages() -> tuple[list[str], dict[str, str]]:
    packages: list[str] = []
    package_dir: dict[str, str] = {}
    for name, folder in ROOTS.items():
        packages.append(name)
        package_dir[name] = folder
        exclude = [DATA, f"{DATA}.*"] if name == "codeflow" else []
        for sub in find_packages(folder, exclude=exclude):
            packages.append(f"{name}.{sub}")
            package_dir[f"{name}.{sub}"] = f"{folder}/" + sub.replace(".", "/")
    return packages, package_dir


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _runtime_source(cache: Path) -> Path:
    """The tree-sitter runtime (``lib/``) from the pinned sdist: a local copy, else ``pip download``."""
    sdist = Path(os.environ.get("CODEFLOW_TS_SDIST") or cache / TS_SDIST)
    if not sdist.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        "--no-build-isolation", "-d", str(cache), f"tree-sitter=={TS_VERSION}"], check=True,
                       timeout=300)
    digest = _sha256(sdist)
    if digest != TS_SDIST_SHA256:
        raise ValueError(f"{sdist}: sha256 {digest} is not that of the released {TS_SDIST}")
    lib = cache / f"tree_sitter-{TS_VERSION}" / "tree_sitter" / "core" / "lib"
    if not (lib / "src" / "lib.c").is_file():
        with tarfile.open(sdist) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(f"tree_sitter-{TS_VERSION}/tree_sitter/core/")]
            tar.extractall(cache, members=members, filter="data")
    return lib


class BuildExt(build_ext):
    """Adds the tree-sitter runtime to ``_native``; skips the extension (a warning) when it cannot be had."""

    def build_extension(self, ext: Extension) -> None:
        if ext.name == NATIVE.name:
            try:
                lib = _runtime_source(HERE / "build" / "tree-sitter-sdist")
            except (OSError, ValueError, subprocess.SubprocessError, tarfile.TarError) as e:
                print(f"WARNING: codeflow.code._native not built (no tree-sitter {TS_VERSION} source: {e}); "
                      "code validation will use the slower Python code", file=sys.stderr)
                return
            ext.sources = [*ext.sources, str(lib / "src" / "lib.c")]
            ext.include_dirs = [*ext.include_dirs, str(lib / "include"), str(lib / "src")]
            if self.compiler.compiler_type == "unix":
                # Link-time optimisation lets the compiler inline the runtime's cursor functions into the walk
                # (a third of its cost; the C stays public-API-only). Without LTO support: a plain build.
                plain = ext.extra_compile_args, ext.extra_link_args
                ext.extra_compile_args = [*plain[0], "-flto=auto"]
                ext.extra_link_args = [*plain[1], "-flto=auto"]
                try:
                    return super().build_extension(ext)
                except (CCompilerError, ExecError) as e:
                    print(f"WARNING: LTO build of {ext.name} failed ({e}); building without it", file=sys.stderr)
                    ext.extra_compile_args, ext.extra_link_args = plain
        super().build_extension(ext)


packages, package_dir = _packages()
# Flags as py-tree-sitter builds the same runtime (its setup.py), so the two parse at the same speed.
NATIVE = Extension("codeflow.code._native", ["codeflow/code/_native.c"], optional=True,
                   extra_compile_args=["-std=c11", "-fvisibility=hidden", "-Wno-cast-function-type"],
                   define_macros=[("_POSIX_C_SOURCE", "200112L"), ("_DEFAULT_SOURCE", None),
                                  ("TREE_SITTER_HIDE_SYMBOLS", None), ("CODEFLOW_TS_VERSION", f'"{TS_VERSION}"')])
setup(packages=packages, package_dir=package_dir, package_data={"codeflow": [f"{DATA}/*", f"{DATA}/**/*"]},
      include_package_data=False, ext_modules=[NATIVE], cmdclass={"build_ext": BuildExt}, license="Apache-2.0")
