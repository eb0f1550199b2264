"""Every script in ``examples/`` runs on the bundled sample and writes what it declares.

Each example runs in its own subprocess, as a user would run it, with
``--out <tmp dir>``; a failing example fails its test. Examples that declare
``FIGURES`` must write each of those PNG files into the output folder (the docs
build runs the same scripts to draw the figures of the pages). Every example also
takes ``--source FOLDER`` to run on another release (the full one) instead of the
bundled sample.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import agea_xr

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def declared_figures(script: Path) -> tuple[str, ...]:
    """The module constant ``FIGURES`` of a script, read without importing it."""
    for node in ast.parse(script.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "FIGURES" for t in node.targets
        ):
            return tuple(ast.literal_eval(node.value))
    return ()


def run_example(script: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, str(script), "--out", str(out), *extra],
        capture_output=True,
        text=True,
        cwd=out,
        env=env,
        timeout=300,
    )


def test_the_examples_are_there():
    names = {p.name for p in SCRIPTS}
    assert {"open_sample.py", "coronal_slice_numpy.py", "iblatlas_side_by_side.py"} <= names
    # at least one example draws a figure for the docs
    assert any(declared_figures(p) for p in SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_example_runs(script, tmp_path):
    done = run_example(script, tmp_path)
    assert done.returncode == 0, f"{script.name} failed:\n{done.stdout}\n{done.stderr}"
    assert done.stdout.strip(), f"{script.name} printed nothing"
    for name in declared_figures(script):
        figure = tmp_path / name
        assert figure.is_file(), f"{script.name} declares {name} but did not write it"
        data = figure.read_bytes()
        assert data.startswith(PNG_SIGNATURE), f"{name} is not a PNG"
        assert len(data) > 10_000, f"{name} is suspiciously small ({len(data)} bytes)"


@pytest.fixture(scope="module")
def release_copy(tmp_path_factory) -> Path:
    """The bundled sample's files copied to a folder of their own: a release elsewhere."""
    folder = tmp_path_factory.mktemp("release") / "agea"
    shutil.copytree(agea_xr.sample_path(), folder)
    return folder


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_example_reads_its_source(script, tmp_path):
    """``--source`` is what the example opens: a missing folder fails naming it."""
    missing = tmp_path / "no-release"
    done = run_example(script, tmp_path, "--source", str(missing))
    assert done.returncode != 0
    assert str(missing) in done.stderr


def test_an_example_on_another_release_folder(tmp_path, release_copy):
    """The same data in another folder: the same results, from that folder."""
    default = run_example(EXAMPLES / "open_sample.py", tmp_path)
    copied = run_example(EXAMPLES / "open_sample.py", tmp_path, "--source", str(release_copy))
    assert copied.returncode == 0, copied.stderr
    assert re.search(rf"source: +{re.escape(str(release_copy))}\n", copied.stdout)
    assert str(agea_xr.sample_path()) not in copied.stdout
    assert copied.stdout.replace(str(release_copy), "SOURCE") == default.stdout.replace(
        str(agea_xr.sample_path()), "SOURCE"
    )


def test_side_by_side_agrees_with_numpy(tmp_path):
    # The script asserts equality itself; check it reached the end with real numbers.
    done = run_example(EXAMPLES / "iblatlas_side_by_side.py", tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "1. Pdyn: 1 experiment(s), identical volumes"
    assert lines[1] == "2. coronal slice at ap=-2.0 mm (index 37): identical"
    # Pdyn is a striatal marker: the nucleus accumbens is among the top Beryl regions.
    assert lines[2].startswith("3. ") and "ACB" in lines[2].split("highest:")[1]
    assert lines[3].startswith("4. 2 points: same values")


def test_a_failing_example_is_reported(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import agea_xr\nagea_xr.open_sample().expression.sel(gene='Nope')\n")
    done = run_example(broken, tmp_path)
    assert done.returncode != 0
    assert "Nope" in done.stderr
