"""Shared fixtures: synthetic datasets in the real format, the real Allen sample.

Fixtures of a single feature live in that feature's test module; fixtures used
by several modules live here.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from agea_xr import layout
from agea_xr.testing import write_synthetic

#: The real Allen downloads kept in the repository (see tests/data/allen/README.md).
ALLEN_DIR = Path(__file__).resolve().parent / "data" / "allen"
N_SYNTHETIC = 12


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Point the cache (and any home-based config) at a temporary folder."""
    monkeypatch.setenv("AGEA_XR_CACHE", str(tmp_path / "agea-cache"))


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory) -> Path:
    """A 12-experiment dataset with both variants, a version marker, label and image."""
    folder = tmp_path_factory.mktemp("agea") / "agea"
    return write_synthetic(folder, N_SYNTHETIC, variants=("raw", "processed"))


@pytest.fixture(scope="session")
def synthetic_raw(synthetic_dir) -> np.ndarray:
    """The raw float16 content of the synthetic binary, read with plain numpy."""
    return np.fromfile(synthetic_dir / layout.VARIANTS["raw"], dtype=layout.RAW_DTYPE).reshape(
        N_SYNTHETIC, *layout.GRID_SHAPE
    )


@pytest.fixture(scope="session")
def allen_dir() -> Path:
    """The folder of real Allen grid downloads."""
    if not (ALLEN_DIR / "P56_Mouse_gridAnnotation.zip").is_file():
        pytest.fail(f"The real Allen sample is missing from {ALLEN_DIR}: restore it from git.")
    return ALLEN_DIR


@pytest.fixture(autouse=True)
def _never_the_real_bucket(monkeypatch):
    """``open_dataset()`` without a source never downloads the real release in tests.

    Tests of the download itself unset ``AGEA_XR_OFFLINE`` and point the code at the
    local S3 server (tests/s3server.py).
    """
    monkeypatch.setenv("AGEA_XR_OFFLINE", "1")


@dataclass(frozen=True)
class DemoRun:
    """What one ``agea-xr demo`` run printed, and the folder it wrote into."""

    stdout: str
    out_dir: Path


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> DemoRun:
    """``agea-xr demo --out-dir D`` run once, as a user runs it, in its own process."""
    out_dir = tmp_path_factory.mktemp("demo")
    done = subprocess.run(
        [sys.executable, "-m", "agea_xr.cli", "demo", "--out-dir", str(out_dir)],
        capture_output=True,
        text=True,
        check=True,
        cwd=out_dir,
    )
    return DemoRun(done.stdout, out_dir)
