"""voxel_matrix: exact values, lazy, and unstacking back to the dataset's grid."""

from __future__ import annotations

import numpy as np
import xarray as xr

import agea_xr
from agea_xr.analysis import voxel_matrix
from agea_xr.regions import region_mask

from .reference import NoExpressionReads


def test_voxel_matrix_is_lazy_and_exact(ds, values, label):
    with NoExpressionReads():
        m = voxel_matrix(ds)
    assert m.dims == ("voxel", "experiment") and m.chunks is not None
    brain = label.reshape(-1) != 0
    assert m.sizes["voxel"] == brain.sum()
    np.testing.assert_array_equal(m.values, values[:, brain].T.astype(np.float32))
    volume = m.unstack("voxel").transpose("experiment", "ml", "dv", "ap")
    v = ds["expression"].isel(experiment=0).sel(ml=volume.ml, dv=volume.dv, ap=volume.ap)
    xr.testing.assert_equal(
        volume.isel(experiment=0).reset_coords(drop=True).where(v.notnull()),
        v.reset_coords(drop=True).where(volume.isel(experiment=0).notnull()),
    )
    ca1 = voxel_matrix(ds, "CA1", hemisphere="left")
    assert ca1.sizes["voxel"] == int(region_mask(ds, "CA1", hemisphere="left").sum())
    assert (ca1["ml"].values < 0).all()


def test_stored_values_come_as_stored_in_every_chunk(synthetic_dir, synthetic_raw, label):
    # mask_and_scale=False: the float16 values with -1 kept, read task by task
    raw = agea_xr.open_dataset(synthetic_dir, mask_and_scale=False, chunks={"experiment": 5})
    m = voxel_matrix(raw, "CA1")
    assert m.dtype == np.float16 and m.chunks[1] == (12,)
    ca1 = region_mask(raw, "CA1").values.reshape(-1)
    expected = synthetic_raw.reshape(synthetic_raw.shape[0], -1)[:, ca1].T
    assert (expected == -1).any()
    np.testing.assert_array_equal(m.values, expected)


# --- issue 10, case 8: unstacking gives the dataset's grid back ------------------------
def test_unstack_gives_the_grid_in_the_dataset_order(sample):
    for spec in ("CA1", ["CA1", "CB"], None):  # two distant regions: gaps in every axis
        m = voxel_matrix(sample, spec)
        volume = m.unstack("voxel").transpose("experiment", "ml", "dv", "ap")
        for dim in ("ml", "dv", "ap"):  # every coordinate, in the dataset's order
            np.testing.assert_array_equal(volume[dim].values, sample[dim].values)
        assert (np.diff(volume["ap"].values) < 0).all() and (np.diff(volume["dv"]) < 0).all()
        mask = region_mask(sample, spec) if spec is not None else sample["label"] != 0
        expected = sample["expression"].where(mask)
        np.testing.assert_array_equal(volume.values, expected.values)
        np.testing.assert_array_equal(volume["experiment"].values, sample["experiment"].values)
        # nearest selection, as on the dataset
        point = {"ml": -2.05e-3, "dv": -3.1e-3, "ap": -1.9e-3}
        np.testing.assert_array_equal(
            volume.sel(point, method="nearest").values,
            expected.sel(point, method="nearest").values,
        )
    computed = voxel_matrix(sample, "CA1").compute().unstack("voxel")  # numpy path too
    assert computed.sizes["ap"] == sample.sizes["ap"]


def test_empty_experiment_selection_gives_no_columns(ds):
    m = voxel_matrix(ds.isel(experiment=[]), "CA1")
    assert m.sizes == {"voxel": int(region_mask(ds, "CA1").sum()), "experiment": 0}
    assert m.compute().shape == (m.sizes["voxel"], 0)
