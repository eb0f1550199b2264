"""Fixtures of the analysis tests: the synthetic dataset in one and in three chunks."""

from __future__ import annotations

import pytest

import agea_xr
from agea_xr.analysis._chunks import expression_matrix

from .reference import decoded


@pytest.fixture(scope="session")
def ds(synthetic_dir):
    return agea_xr.open_dataset(synthetic_dir)


@pytest.fixture(scope="session")
def ds5(synthetic_dir):
    """The same data in chunks of 5 experiments (5, 5, 2): results must combine chunks."""
    opened = agea_xr.open_dataset(synthetic_dir, chunks={"experiment": 5})
    assert opened["expression"].chunks[0] == (5, 5, 2)
    assert expression_matrix(opened).mask is True  # still the raw-bits path, over 3 chunks
    return opened


@pytest.fixture(scope="session")
def values(synthetic_raw):
    """(experiment, voxel) float64 reference values, NaN where the file holds -1."""
    return decoded(synthetic_raw)


@pytest.fixture(scope="session")
def label(ds):
    return ds["label"].values


@pytest.fixture(scope="session")
def sample():
    return agea_xr.open_sample()
