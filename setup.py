"""Maps the fixed top-level folders onto one import namespace, ``codeflow``.

The user fixed the layout (``codeflow/``, ``pipelines/``, ``classifiers/``, ``model/``) but we want one
namespace in site-packages, so ``pipelines/`` installs as ``codeflow.pipelines`` and so on. Sub-packages are
discovered here rather than listed in pyproject.toml, so adding a folder with an ``__init__.py`` is enough.

``codeflow.code._native`` is the one C extension (the syntax-tree walk and line statistics of ``codeflow code``).
It is optional: without a C compiler the build skips it and validation falls back to Python code with the same
results, only slower (``codeflow.code.native.status()`` says which is in use).
"""

from setuptools import Extension, find_packages, setup

ROOTS = {"codeflow": "codeflow", "codeflow.pipelines": "pipelines", "codeflow.classifiers": "classifiers",
         "codeflow.model": "model"}


def _packages() -> tuple[list[str], dict[str, str]]:
    packages: list[str] = []
    package_dir: dict[str, str] = {}
    for name, folder in ROOTS.items():
        packages.append(name)
        package_dir[name] = folder
        for sub in find_packages(folder):
            packages.append(f"{name}.{sub}")
            package_dir[f"{name}.{sub}"] = f"{folder}/" + sub.replace(".", "/")
    return packages, package_dir


packages, package_dir = _packages()
NATIVE = Extension("codeflow.code._native", ["codeflow/code/_native.c"], optional=True,
                   extra_compile_args=["-O2", "-std=c11"])
setup(packages=packages, package_dir=package_dir, package_data={"codeflow": ["data/*", "data/**/*"]},
      ext_modules=[NATIVE])
