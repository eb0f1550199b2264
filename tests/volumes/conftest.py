"""One synthetic atlas in iblatlas' layout for the cell-type and lipid tests.

``agea/`` (the grid label), ``merfish/`` at the class and subclass levels and
``lipids/``, written once per session by :mod:`agea_xr.testing`; tests that
change files write their own.
"""

from __future__ import annotations

import pytest

import agea_xr
import agea_xr.testing as t


@pytest.fixture(scope="session")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("Allen")
    t.write_agea_grid(root / "agea")
    t.write_merfish(root / "merfish", levels=("class", "subclass"))
    t.write_lipids(root / "lipids")
    return root


@pytest.fixture(scope="session")
def ct(root):
    """The subclass level."""
    return agea_xr.open_cell_types(root / "merfish", "subclass")


@pytest.fixture(scope="session")
def lp(root):
    return agea_xr.open_lipids(root / "lipids")
