"""points_to_map against numpy histograms and iblatlas' compute_volume_from_points."""

from __future__ import annotations

import numpy as np
import pytest
from iblatlas.plots import compute_volume_from_points

import agea_xr
from agea_xr import layout
from agea_xr.bridge import to_brain_atlas
from agea_xr.spaces import xyz_to_ccf_um


@pytest.fixture(scope="module")
def points():
    """500 points scattered in the brain (none on a voxel boundary), with values."""
    rng = np.random.default_rng(0)
    label = agea_xr.open_sample().label.values
    brain = np.argwhere(label != 0)[rng.integers(0, int((label != 0).sum()), 500)]
    centres = np.stack(
        [
            layout.ml_coords()[brain[:, 0]],
            layout.ap_coords()[brain[:, 2]],
            layout.dv_coords()[brain[:, 1]],
        ],
        axis=1,
    )
    return centres + rng.uniform(-9e-5, 9e-5, centres.shape), rng.normal(size=500), label


def histogram(xyz, weights=None):
    """numpy reference: bins whose edges lie half-way between voxel centres."""
    edges = []
    for dim in ("ml", "dv", "ap"):
        c = np.sort(layout.coords()[dim])
        edges.append(np.concatenate([c - 1e-4, [c[-1] + 1e-4]]))
    counts, _ = np.histogramdd(xyz[:, [0, 2, 1]], bins=edges, weights=weights)
    # histogramdd bins increasing coordinates; dv and ap decrease with the index
    return counts[:, ::-1, ::-1]


def test_count_sum_mean_equal_numpy(points):
    xyz, values, label = points
    count = histogram(xyz)
    total = histogram(xyz, values)
    outside = label == 0
    for stat, expected in (
        ("count", count),
        ("density", count / 0.008),
        ("sum", total),
        ("mean", np.where(count > 0, total / np.maximum(count, 1), np.nan)),
    ):
        m = agea_xr.points_to_map(xyz, values, stat)
        assert m.dims == layout.GRID_DIMS and m.name == f"points_{stat}"
        assert np.isnan(m.values[outside]).all()
        np.testing.assert_allclose(m.values[~outside], expected[~outside], rtol=1e-5, atol=1e-5)
    assert float(agea_xr.points_to_map(xyz).sum()) == 500


def test_equal_to_iblatlas(points):
    xyz, values, _ = points
    ba = to_brain_atlas(agea_xr.open_sample())
    ba.res_um = 200  # compute_volume_from_points reads it for the smoothing
    cases = [("count", None, "sum", 0), ("sum", values, "sum", 0), ("count", None, "sum", 300)]
    for stat, vals, aggr, fwhm in cases:
        expected = compute_volume_from_points(xyz, vals, aggr=aggr, fwhm=fwhm, ba=ba)
        m = agea_xr.points_to_map(xyz, vals, stat, fwhm_um=fwhm)
        np.testing.assert_allclose(m.values, expected, rtol=1e-5, atol=1e-6, equal_nan=True)
    # the mean differs only where no point fell: NaN here, 0 in iblatlas
    expected = compute_volume_from_points(xyz, values, aggr="mean", fwhm=0, ba=ba)
    m = agea_xr.points_to_map(xyz, values, "mean").values
    hit = np.isfinite(m)
    np.testing.assert_allclose(m[hit], expected[hit], rtol=1e-5)
    assert (expected[~hit & ~np.isnan(expected)] == 0).all()


def test_ccf_points_equal_ibl_points(points):
    xyz, _, _ = points
    ibl = agea_xr.points_to_map(xyz)
    for order in ("mlapdv", "apdvml"):
        ccf = agea_xr.points_to_map(xyz_to_ccf_um(xyz, order), space="ccf", ccf_order=order)
        np.testing.assert_array_equal(ccf.values, ibl.values)


def test_out_of_grid_modes(points):
    xyz, _, _ = points
    far = np.vstack([xyz[:3], [[0.02, 0.0, 0.0]], [[np.nan, 0, 0]]])
    with pytest.raises(ValueError, match="outside"):
        agea_xr.points_to_map(far)
    dropped = agea_xr.points_to_map(far, mode="nan")
    assert float(dropped.sum()) == 3 and dropped.attrs["points_outside"] == 2
    clipped = agea_xr.points_to_map(far[:4], mode="clip", brain_only=False)
    assert float(clipped.sum()) == 4 and float(clipped.isel(ml=-1).sum()) >= 1
    with pytest.raises(ValueError, match="stat"):
        agea_xr.points_to_map(xyz, stat="median")
    with pytest.raises(ValueError, match="needs values"):
        agea_xr.points_to_map(xyz, stat="mean")
    with pytest.raises(ValueError, match="fwhm_um"):
        agea_xr.points_to_map(xyz, fwhm_um=-1)
