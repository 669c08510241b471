"""No class in etl/ over 250 lines and no function over 80 (issue #21), so that each stays
readable as one piece. Released migrations aside: they are frozen."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_CLASS_LINES = 250
MAX_FUNCTION_LINES = 80
# Migrations are history: never edited once released, so they are not held to the limits.
FROZEN = "etl/store/migrations/versions/"


def oversized(path: Path, root: Path = ROOT) -> dict[str, int]:
    """``file::name`` -> length in lines, for each class or function in ``path`` over its limit
    (a decorator's lines aside; the docstring and the body counted)."""
    found = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            lines = node.end_lineno - node.lineno + 1
            limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
            if lines > limit:
                found[f"{path.relative_to(root).as_posix()}::{node.name}"] = lines
    return found


def test_no_class_over_250_lines_and_no_function_over_80():
    found = {}
    for path in sorted((ROOT / "etl").rglob("*.py")):
        if not path.relative_to(ROOT).as_posix().startswith(FROZEN):
            found |= oversized(path)
    assert found == {}


def test_a_function_of_81_lines_is_found_and_one_of_80_is_not(tmp_path):
    def function(name: str, lines: int) -> str:
        return f"def {name}():\n" + "".join(f"    x{i} = {i}\n" for i in range(lines - 1))

    source = tmp_path / "sizes.py"
    source.write_text(function("long", 81) + function("fits", 80), encoding="utf-8")

    assert oversized(source, tmp_path) == {"sizes.py::long": 81}


def test_the_command_line_loads_neither_the_imitation_nor_an_http_server():
    # Issue 21: every `sync` loaded http.server and the imitation, for two constants.
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, etl.cli; print('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.split()
    assert "etl.cli" in loaded
    assert [
        name for name in loaded if name == "http.server" or name.startswith("etl.imitation")
    ] == []
