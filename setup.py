"""Maps the fixed top-level folders onto one import namespace, ``codeflow``.

The user fixed the layout (``codeflow/``, ``pipelines/``, ``classifiers/``, ``model/``) but we want one
namespace in site-packages, so ``pipelines/`` installs as ``codeflow.pipelines`` and so on. Sub-packages are
discovered here rather than listed in pyproject.toml, so adding a folder with an ``__init__.py`` is enough.
"""

from setuptools import find_packages, setup

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
setup(packages=packages, package_dir=package_dir, package_data={"codeflow": ["data/*", "data/**/*"]})
