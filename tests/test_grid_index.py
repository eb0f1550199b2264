"""Grid coordinates: iblatlas' values, typed decimals and the nearest-voxel rule in ``.sel``."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import xarray as xr

import agea_xr
from agea_xr import layout
from agea_xr.grid_index import TOLERANCE_M, GridIndex, set_grid_indexes

#: BrainCoordinates attribute of each grid dimension, and its x2i method.
SCALES = {"ml": ("xscale", "x2i"), "ap": ("yscale", "y2i"), "dv": ("zscale", "z2i")}
#: Voxel 0 in whole micrometres and the step along each dimension.
START_UM = {"ml": -5739, "ap": 5400, "dv": 332}
STEP_UM = {"ml": 200, "ap": -200, "dv": -200}


@pytest.fixture(scope="module")
def ds() -> xr.Dataset:
    return agea_xr.open_sample()


@pytest.fixture(scope="module")
def atlas(ds):
    return ds.agea.to_brain_atlas()


def typed(dim: str, i: int, spelling: str) -> float:
    """Voxel centre ``i`` of ``dim`` as a person writes it (decimal metres, or mm / 1000)."""
    um = START_UM[dim] + STEP_UM[dim] * i
    if spelling == "metres":
        return float(f"{um / 1000:.3f}e-3")  # e.g. 5.4e-3, -2.0e-3, 1.4e-3
    if spelling == "decimal":
        return float(repr(round(um * 1e-6, 6)))  # e.g. 0.0054, -0.002
    return float(f"{um / 1000:.3f}") / 1000  # mm / 1000


@pytest.mark.parametrize("dim", ["ml", "ap", "dv"])
def test_coordinates_are_iblatlas_scales_bit_for_bit(ds, atlas, dim):
    scale = getattr(atlas.bc, SCALES[dim][0])
    np.testing.assert_array_equal(ds[dim].values, scale)
    np.testing.assert_array_equal(getattr(layout, f"{dim}_coords")(), scale)


@pytest.mark.parametrize("dim", ["ml", "ap", "dv"])
def test_every_iblatlas_scale_value_selects_its_plane(ds, atlas, dim):
    scale = getattr(atlas.bc, SCALES[dim][0])
    for i, value in enumerate(scale):
        plane = ds.sel({dim: value})
        assert float(plane[dim]) == scale[i]
        np.testing.assert_array_equal(
            plane.label.values, ds.label.isel({dim: i}).values, err_msg=f"{dim}[{i}]"
        )
    assert ds.sel({dim: scale[::-1]})[dim].values.tolist() == scale[::-1].tolist()


@pytest.mark.parametrize("spelling", ["metres", "decimal", "mm/1000"])
@pytest.mark.parametrize("dim", ["ml", "ap", "dv"])
def test_every_typed_decimal_selects_its_plane(ds, dim, spelling):
    n = ds.sizes[dim]
    values = [typed(dim, i, spelling) for i in range(n)]
    off = [v for i, v in enumerate(values) if v != ds[dim].values[i]]
    assert off  # many typed values differ from the grid by ~1e-18 m
    for i, value in enumerate(values):
        assert int(ds.indexes[dim].get_loc(float(ds.sel({dim: value})[dim]))) == i
    # lists, arrays and DataArrays of typed values too
    picked = ds.sel({dim: values[::3]})
    assert picked[dim].values.tolist() == ds[dim].values[::3].tolist()
    labels = xr.DataArray(values[:4], dims="point")
    assert ds.label.sel({dim: labels}).sizes["point"] == 4


def test_the_cases_of_the_report(ds, atlas):
    assert float(ds.sel(ap=atlas.bc.yscale[3]).ap) == atlas.bc.yscale[3]
    assert float(ds.sel(ap=0.0054).ap) == ds.ap.values[0]
    assert float(ds.sel(ap=-0.002).ap) == ds.ap.values[37]
    assert float(ds.sel(ap=1.4e-3).ap) == ds.ap.values[20]


def test_slices_include_typed_bounds(ds):
    part = ds.sel(ap=slice(0.0054, 0.0014), ml=slice(-1e-3, 1.061e-3))
    np.testing.assert_array_equal(part.ap.values, ds.ap.values[:21])
    assert part.ml.values[0] > -1e-3 and part.ml.values[-1] == ds.ml.values[34]


def test_off_grid_label_raises_and_suggests_nearest(ds):
    with pytest.raises(
        KeyError,
        match=r"ap=0.00545 m is not a voxel centre of this grid: the nearest is 0.0054 m, "
        r"50 um away.*method='nearest'",
    ):
        ds.sel(ap=0.0054 + 50e-6)
    with pytest.raises(KeyError, match="5.4 looks like millimetres: in metres it is 0.0054"):
        ds.sel(ap=5.4)
    with pytest.raises(KeyError, match="not a voxel centre"):
        ds.sel(dv=[-2.068e-3, -2.1e-3])
    with pytest.raises(KeyError, match="not a voxel centre"):
        ds.sel(ml=ds.ml.values[3] + 10 * TOLERANCE_M)
    assert float(ds.sel(ml=ds.ml.values[3] + TOLERANCE_M / 2).ml) == ds.ml.values[3]


@pytest.mark.parametrize("dim", ["ml", "ap", "dv"])
def test_nearest_ties_follow_iblatlas(ds, atlas, dim):
    scale = getattr(atlas.bc, SCALES[dim][0])
    to_index = getattr(atlas.bc, SCALES[dim][1])
    halfway = np.array(
        [typed(dim, i, "decimal") + STEP_UM[dim] * 0.5e-6 for i in range(len(scale) - 1)]
    )
    halfway = np.concatenate([halfway, (scale[:-1] + scale[1:]) / 2])
    expected = to_index(halfway)  # iblatlas' BrainCoordinates.x2i / y2i / z2i
    got = [
        int(ds.indexes[dim].get_loc(float(ds.sel({dim: x}, method="nearest")[dim])))
        for x in halfway
    ]
    assert got == expected.tolist()
    vector = ds.label.sel({dim: xr.DataArray(halfway, dims="point")}, method="nearest")
    np.testing.assert_array_equal(
        vector[dim].values, scale[np.asarray(layout.nearest_index(halfway, dim), dtype=int)]
    )


def test_nearest_in_a_selection_takes_the_nearest_remaining_plane(ds):
    part = ds.isel(ap=slice(38, 50))  # plane 37 is not there
    halfway = (ds.ap.values[37] + ds.ap.values[38]) / 2
    assert float(part.sel(ap=halfway, method="nearest").ap) == ds.ap.values[38]
    with pytest.raises(KeyError):
        part.sel(ap=ds.ap.values[30], method="nearest", tolerance=1e-4)


def test_alignment_treats_nanometre_differences_as_the_same_plane(ds):
    older = (5400.0 - 200.0 * np.arange(67)) * 1e-6  # the arithmetic of earlier releases
    assert (older != ds.ap.values).any()
    other = set_grid_indexes(xr.DataArray(np.arange(67.0), coords={"ap": older}, dims="ap"))
    a, b = xr.align(ds.label, other, join="inner")
    assert a.sizes["ap"] == b.sizes["ap"] == 67
    partial = other.isel(ap=slice(10, 20))
    outer = xr.align(ds.label, partial, join="outer")[1]
    assert outer.sizes["ap"] == 67  # sorted, as xarray's outer joins are
    np.testing.assert_array_equal(outer.sel(ap=ds.ap.values[10:20]).values, np.arange(10.0, 20.0))
    assert np.isnan(outer.drop_sel(ap=ds.ap.values[10:20]).values).all()
    reindexed = partial.reindex_like(ds.label)
    np.testing.assert_array_equal(reindexed.values[10:20], np.arange(10.0, 20.0))


def test_grid_index_survives_operations_and_pickling(ds):
    for obj in (
        ds.isel(ap=slice(3, 9)),
        ds.sortby("ap"),
        xr.concat([ds.label.isel(ap=[0]), ds.label.isel(ap=[5])], dim="ap"),
        pickle.loads(pickle.dumps(ds)),
    ):
        index = obj.xindexes["ap"]
        assert isinstance(index, GridIndex) and index.axis == "ap"
        first = obj.ap.values[0]
        assert float(obj.sel(ap=float(f"{first * 1e3:.1f}e-3")).ap) == first
    renamed = ds.label.rename(ap="y")
    assert renamed.xindexes["y"].axis == "ap"
