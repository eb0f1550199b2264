"""Fixtures of the command-line tests: the synthetic release opened, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import agea_xr


@pytest.fixture(scope="package")
def ds(synthetic_dir):
    """The 12-experiment synthetic release, opened by the library (the reference)."""
    return agea_xr.open_dataset(synthetic_dir)


def run_cli(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    """``agea-xr ARGV`` in its own process, as a user runs it."""
    env = {**os.environ, "MPLBACKEND": "Agg", **kwargs.pop("env", {})}
    return subprocess.run(
        [sys.executable, "-m", "agea_xr.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=kwargs.pop("timeout", 120),
        **kwargs,
    )
