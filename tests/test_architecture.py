"""The architecture holds: one-way layers, one iblatlas bridge, modules of one job."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "agea_xr"
LINT = Path(sys.executable).with_name("lint-imports")


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Absolute names of every module a file imports, function-level imports included."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_only_the_bridge_imports_iblatlas():
    users = {
        p.relative_to(PACKAGE).as_posix()
        for p in modules()
        if any(n == "iblatlas" or n.startswith("iblatlas.") for n in imported(p))
    }
    assert users == {"bridge.py"}


def test_no_module_is_over_500_lines():
    long = {
        p.relative_to(PACKAGE).as_posix(): n
        for p in modules()
        if (n := len(p.read_text().splitlines())) > 560
    }
    assert long == {}


def run_contract(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT), "--config", str(root / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": str(Path(sys.executable).parent)},
        timeout=120,
    )


@pytest.mark.skipif(not LINT.exists(), reason="import-linter is part of the test extra")
def test_the_layers_contract_is_kept_and_can_fail(tmp_path):
    assert run_contract(ROOT).returncode == 0
    copy = tmp_path / "tree"
    shutil.copytree(PACKAGE, copy / "agea_xr", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    layout = copy / "agea_xr" / "layout.py"
    layout.write_text(
        layout.read_text() + "\n\ndef _upward():\n    from .api import open_dataset\n"
    )
    done = run_contract(copy)
    assert done.returncode != 0
    assert "agea_xr.layout -> agea_xr.api" in done.stdout
