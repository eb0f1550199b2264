"""region_map paints per-region values onto the grid, and region_expression reads them back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import agea_xr
from agea_xr.analysis import region_expression, region_map
from agea_xr.bridge import brain_regions
from agea_xr.layout import EXPERIMENT, GRID_DIMS

CASES = [
    ("Beryl", None),
    ("Cosmos", None),
    ("Allen", None),
    ("Beryl", "split"),
    ("Cosmos", "left"),
    ("Beryl-lr", None),
]


@pytest.fixture(scope="module")
def sample():
    return agea_xr.open_sample()


@pytest.mark.parametrize(("mapping", "hemisphere"), CASES)
def test_round_trip_on_the_real_sample(sample, mapping, hemisphere):
    v = region_expression(sample, mapping, hemisphere=hemisphere).compute()
    painted = region_map(sample, v)
    assert painted.dims == (EXPERIMENT, *GRID_DIMS)
    back = region_expression(
        sample.assign(expression=painted.drop_vars("label")), mapping, hemisphere=hemisphere
    ).compute()
    np.testing.assert_array_equal(back["region"].values, v["region"].values)
    assert (v["voxels"].values > 0).all()  # every row has voxels
    np.testing.assert_allclose(back.values, v.values, rtol=1e-12, equal_nan=True)
    # and voxel by voxel against iblatlas' own region ids (independent of region_expression)
    br = brain_regions()
    ids = br.id[br.mappings[mapping][sample.label.values]].astype(np.int64)
    if hemisphere is not None or mapping.endswith("-lr"):
        left = (sample.ml.values < 0)[:, None, None] & np.ones(ids.shape, bool)
        ids = np.where(left, -np.abs(ids), np.abs(ids))
    lookup = dict(zip(v["region"].values.tolist(), v.values[0].tolist(), strict=True))
    expected = np.array([lookup.get(i, np.nan) for i in ids.reshape(-1)]).reshape(ids.shape)
    np.testing.assert_array_equal(painted.values[0], expected)
    assert np.isnan(painted.values[0][sample.label.values == 0]).all()


def test_series_by_acronym_paints_both_hemispheres(sample):
    painted = region_map(sample, pd.Series({"CP": 1.5, "ACB": -2.0}), mapping="Beryl")
    br = brain_regions()
    ids = br.id[br.mappings["Beryl"][sample.label.values]]
    expected = np.where(np.abs(ids) == 672, 1.5, np.where(np.abs(ids) == 56, -2.0, np.nan))
    np.testing.assert_array_equal(painted.values, expected)
    assert (sample.ml.values[np.nonzero(painted.values == 1.5)[0]] < 0).any()  # left CP too
    assert painted.dims == GRID_DIMS
    assert painted.attrs["mapping"] == "Beryl"
    assert "NaN" in painted.attrs["comment"]
    np.testing.assert_array_equal(painted["label"].values, sample.label.values)


def test_series_by_id_with_negative_ids_keeps_hemispheres_apart(sample):
    painted = region_map(sample, pd.Series({-672: 1.0, 672: 2.0}))
    left = sample.ml.values < 0
    cp = (painted.values == 1.0) | (painted.values == 2.0)
    i_ml = np.nonzero(cp)[0]
    assert set(painted.values[cp][left[i_ml]]) == {1.0}
    assert set(painted.values[cp][~left[i_ml]]) == {2.0}
    mask = sample.agea.region_mask("CP", "Beryl").values
    np.testing.assert_array_equal(cp, mask)


def test_integer_values_and_lazy_values(sample):
    counts = region_expression(sample, "Cosmos", "count")
    painted = region_map(sample, counts)
    assert painted.chunks is not None  # lazy in, lazy out
    assert painted.dtype == np.float64
    xr.testing.assert_allclose(
        painted.compute().drop_vars("label"),
        region_map(sample, counts.compute()).astype(np.float64).drop_vars("label"),
    )


def test_extra_dims_kept_and_plot_slice_draws_boundaries(sample):
    from matplotlib.figure import Figure

    m = region_expression(sample, "Beryl", combine_genes=True).compute()
    painted = region_map(sample, m)
    assert painted.dims == ("gene", *GRID_DIMS)
    assert painted.sel(gene="Pdyn").dims == GRID_DIMS
    ax = painted.sel(gene="Pdyn").agea.plot_slice(ap=1.0e-3, ax=Figure().add_subplot())
    gids = {c.get_gid() for c in ax.collections}
    assert {"region boundaries", "brain outline"} <= gids


def test_accessors_delegate(sample):
    s = pd.Series({"CNU": 2.0, "CB": -1.0})
    xr.testing.assert_identical(
        sample.agea.region_map(s, "Cosmos"), region_map(sample, s, "Cosmos")
    )
    pdyn = sample.agea.gene("Pdyn")  # a DataArray carrying the label
    xr.testing.assert_identical(pdyn.agea.region_map(s, "Cosmos"), region_map(sample, s, "Cosmos"))


@pytest.mark.parametrize(
    ("values", "mapping", "match"),
    [
        (pd.Series({"CPu": 1.0}), "Beryl", r"acronym.*CPu.*Closest: CP"),
        (pd.Series({"CP": 1.0}), "Cosmos", r"not regions of the 'Cosmos'.*CP"),
        (pd.Series({"CP": 1.0}), "Beryl-lr", "Acronyms name both hemispheres"),
        (pd.Series([1.0, 2.0], index=[672, 672]), "Beryl", "more than once"),
        (pd.Series({123456789: 1.0}), "Beryl", "unknown to iblatlas"),
        (xr.DataArray([1.0], dims="x"), "Beryl", "no 'region' dimension"),
        (pd.Series({"CP": "a"}), "Beryl", r"paints numbers; the values are object.*to_numeric"),
    ],
)
def test_bad_input_is_named(sample, values, mapping, match):
    with pytest.raises(ValueError, match=match):
        region_map(sample, values, mapping)


def test_a_contradicting_mapping_is_refused(sample):
    m = region_expression(sample, "Cosmos").compute()
    with pytest.raises(ValueError, match="computed under the 'Cosmos' mapping"):
        region_map(sample, m, "Beryl")
    with pytest.raises(TypeError, match="DataArray with a 'region' dimension"):
        region_map(sample, {"CP": 1.0})
