"""The wheel carries the files its commands and messages name that live outside ``etl/`` in
the checkout: ``sql/queries/``, ``examples/``, ``.env.example`` and ``deploy/`` go into
``etl/resources/``, where ``etl.resources`` reads them. The checkout keeps the one copy (the
docs and tests name it there), so they are copied when a wheel is built rather than kept twice.
Everything else is in pyproject.toml.
"""

import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def shipped() -> dict[str, tuple[str, ...]]:
    """etl.resources.IN_CHECKOUT: each directory under etl/resources/ and the checkout's files
    that go there. Read from the module's file, which imports only the standard library: the
    package's dependencies are not installed while it is built."""
    spec = importlib.util.spec_from_file_location(
        "_shipped", ROOT / "etl" / "resources" / "__init__.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.IN_CHECKOUT


class BuildPyWithResources(build_py):
    """build_py, then the shipped files into the built package."""

    def run(self) -> None:
        super().run()
        for name, patterns in shipped().items():
            target = Path(self.build_lib, "etl", "resources", name)
            self.mkpath(str(target))
            for pattern in patterns:
                for path in sorted(ROOT.glob(pattern)):
                    if path.is_file():
                        self.copy_file(str(path), str(target / path.name))


setup(cmdclass={"build_py": BuildPyWithResources})
