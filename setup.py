"""The wheel carries the files its commands and messages name that live outside ``etl/`` in
the checkout: ``sql/queries/``, ``examples/`` and ``deploy/`` go into ``etl/resources/``, read
by ``etl.resources``. The checkout keeps the one copy (the docs and tests name it there), so
they are copied when a wheel is built rather than kept twice. Everything else is in
pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# Checkout directory -> its name under etl/resources/ (etl/resources/__init__.py's _IN_CHECKOUT).
SHIPPED = {"sql/queries": "queries", "examples": "examples", "deploy": "deploy"}


class BuildPyWithResources(build_py):
    """build_py, then the shipped directories' files into the built package."""

    def run(self) -> None:
        super().run()
        for source, name in SHIPPED.items():
            target = Path(self.build_lib, "etl", "resources", name)
            self.mkpath(str(target))
            for path in sorted((ROOT / source).iterdir()):
                if path.is_file():
                    self.copy_file(str(path), str(target / path.name))


setup(cmdclass={"build_py": BuildPyWithResources})
