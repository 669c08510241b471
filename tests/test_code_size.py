"""No class in etl/ over 250 lines and no function over 80 (issue #21), so that each stays
readable as one piece. Known exceptions are listed by name, to be struck off as they are split."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_CLASS_LINES = 250
MAX_FUNCTION_LINES = 80
# Still to be split by issue #21's other parts; strike each off when it is. Migrations are
# history (never edited once released): whether they are exempt is still to be decided.
KNOWN_OVER = {
    "etl/cli.py::sync_command",
    "etl/job.py::sync",
    "etl/job.py::_Run",
    "etl/store/migrations/versions/0001_initial_schema.py::upgrade",
    "etl/store/migrations/versions/0003_workspaces_and_dataset_details.py::upgrade",
    "etl/store/migrations/versions/0004_responses.py::_create_responses",
}


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
        found |= oversized(path)
    assert {name: lines for name, lines in found.items() if name not in KNOWN_OVER} == {}


def test_a_function_of_81_lines_is_found_and_one_of_80_is_not(tmp_path):
    def function(name: str, lines: int) -> str:
        return f"def {name}():\n" + "".join(f"    x{i} = {i}\n" for i in range(lines - 1))

    source = tmp_path / "sizes.py"
    source.write_text(function("long", 81) + function("fits", 80), encoding="utf-8")

    assert oversized(source, tmp_path) == {"sizes.py::long": 81}
