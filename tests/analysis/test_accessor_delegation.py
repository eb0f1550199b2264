"""The analyses through the accessor give the functions' results (the CLI: tests/cli)."""

from __future__ import annotations

import pandas as pd
import xarray as xr

from agea_xr.analysis import gene_finder, region_expression, seed_correlation, voxel_matrix

from .reference import SEED_XYZ


def test_accessor_delegates(ds):
    xr.testing.assert_identical(
        ds.agea.region_expression("Cosmos").compute(), region_expression(ds, "Cosmos").compute()
    )
    pd.testing.assert_frame_equal(ds.agea.gene_finder("CA1"), gene_finder(ds, "CA1"))
    assert ds.agea.voxel_matrix("CA1").sizes["voxel"] == voxel_matrix(ds, "CA1").sizes["voxel"]
    r = ds.agea.seed_correlation(SEED_XYZ, min_experiments=6).compute()
    xr.testing.assert_identical(r, seed_correlation(ds, SEED_XYZ, min_experiments=6).compute())
