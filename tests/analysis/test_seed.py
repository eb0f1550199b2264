"""seed_correlation against a numpy Pearson reference; the seed voxel rule; bad seeds."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from agea_xr import layout
from agea_xr.analysis import seed_correlation
from agea_xr.points import DXYZ, XYZ0, i2xyz, xyz2i
from agea_xr.regions import region_mask

from .reference import SEED_XYZ, pearson_reference, sample_values


def test_seed_correlation_matches_numpy(ds5, values):
    ds = ds5
    r = seed_correlation(ds, SEED_XYZ, min_experiments=10).compute()
    i = [
        int(np.argmin(np.abs(ds[d].values - v)))
        for d, v in zip(("ml", "ap", "dv"), SEED_XYZ, strict=True)
    ]
    flat = np.ravel_multi_index((i[0], i[2], i[1]), layout.GRID_SHAPE)
    expected, n = pearson_reference(values, values[:, flat], 10)
    assert r.dims == ("ml", "dv", "ap")
    np.testing.assert_array_equal(r["n_experiments"].values.reshape(-1), n)
    got = r.values.reshape(-1)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    assert got[flat] == pytest.approx(1.0)
    # voxels measured in fewer experiments (together with the seed) than the threshold
    assert (np.isnan(got[n < 10])).all() and (n < 10).any() and (n >= 10).any()
    assert r.attrs["seed_xyz"][0] == pytest.approx(ds["ml"].values[i[0]])


def test_seed_region_correlation(ds5, values):
    ds = ds5
    r = seed_correlation(ds, region="HPF", mapping="Cosmos", min_experiments=3).compute()
    mask = region_mask(ds, "HPF", mapping="Cosmos").values.reshape(-1)
    with np.errstate(invalid="ignore"):
        y = np.nanmean(values[:, mask], axis=1)
    expected, _ = pearson_reference(values, y, 3)
    np.testing.assert_allclose(r.values.reshape(-1), expected, rtol=1e-6, atol=1e-9)


def test_seed_correlation_errors(ds):
    with pytest.raises(ValueError, match="exactly one seed"):
        seed_correlation(ds)
    with pytest.raises(ValueError, match="lies outside the grid"):
        seed_correlation(ds, [0.0, 9e-3, -1e-3])
    with pytest.raises(ValueError, match="xyz must be 3 numbers"):
        seed_correlation(ds, [0.0, 1e-3])
    with pytest.raises(ValueError, match="min_experiments must be at least 1"):
        seed_correlation(ds, SEED_XYZ, min_experiments=0)
    with pytest.raises(KeyError, match="Unknown brain region acronym 'HPFF'"):
        seed_correlation(ds, region="HPFF")


def _nearest_measured(values, flat, need):
    """Reference: the voxel nearest to ``flat`` measured in >= need experiments."""
    counts = np.isfinite(values).sum(0)
    grids = np.meshgrid(layout.ml_coords(), layout.dv_coords(), layout.ap_coords(), indexing="ij")
    xyz = np.stack([g.reshape(-1) for g in grids], axis=1)
    distance = np.linalg.norm(xyz - xyz[flat], axis=1)
    distance[counts < need] = np.inf
    best = int(np.argmin(distance))
    return best, distance[best] * 1e3, counts[best]


def test_unmeasured_seed_voxel_raises_with_the_nearest_measured_voxel(ds5, values):
    """A seed measured in too few experiments would give an all-NaN map: say so."""
    corner = [-5.739e-3, 5.4e-3, 0.332e-3]  # voxel (0, 0, 0): outside the synthetic brain
    n_seed = int(np.isfinite(values[:, 0]).sum())
    assert 0 < n_seed < 10
    best, distance, count = _nearest_measured(values, 0, 10)
    ml, dv, ap = np.unravel_index(best, layout.GRID_SHAPE)
    x, y, z = (
        layout.ml_coords()[ml] * 1e3,
        layout.ap_coords()[ap] * 1e3,
        layout.dv_coords()[dv] * 1e3,
    )
    lazy = seed_correlation(ds5, corner, min_experiments=10)  # lazy: no error yet
    with pytest.raises(ValueError) as info:
        lazy.compute()
    message = str(info.value)
    assert "The seed xyz=[-0.005739, 0.0054, 0.000332] (m)" in message
    assert "x=-5.739, y=+5.400, z=+0.332 mm (indices ml=0, ap=0, dv=0)" in message
    assert f"measured in {n_seed} of 12 experiments, fewer than the 10 needed" in message
    assert f"nearest voxel measured in at least 10 experiments is at x={x:+.3f}, " in message
    assert f"y={y:+.3f}, z={z:+.3f} mm ({distance:.2f} mm away, {count} experiments)" in message
    # the same seed with a threshold it meets gives a map
    r = seed_correlation(ds5, corner, min_experiments=n_seed).compute()
    assert r.values.reshape(-1)[0] == pytest.approx(1.0)


def test_seed_never_measured_and_no_voxel_measured_enough(ds, values):
    never = ds.assign(expression=ds["expression"].where(ds["ml"] > -5.7e-3))  # ml[0] all NaN
    with pytest.raises(ValueError, match=r"measured in 0 of 12 experiments.*nearest voxel"):
        seed_correlation(never, [-5.739e-3, 0.0, -3.0e-3], min_experiments=5).compute()
    with pytest.raises(ValueError, match=r"No voxel is measured in 13 experiments.*lower"):
        seed_correlation(ds, SEED_XYZ, min_experiments=13).compute()
    with pytest.raises(ValueError, match=r"seed region 'CA1' has a measured mean profile in"):
        seed_correlation(ds, region="CA1", min_experiments=13).compute()


def test_correlation_map_carries_the_label(ds):
    r = seed_correlation(ds, SEED_XYZ, min_experiments=6)
    assert r["label"].dims == ("ml", "dv", "ap")
    np.testing.assert_array_equal(r["label"].values, ds["label"].values)
    assert r.attrs["long_name"] == "Pearson r" and "units" not in r.attrs
    assert r.attrs["valid_range"] == [-1.0, 1.0]
    assert r.attrs["description"].startswith("Pearson r with the voxel at x=-1.539")
    computed = r.compute()
    ca1 = computed.agea.sel_region("CA1")  # failed without the label coordinate
    inside = region_mask(ds, "CA1").values
    np.testing.assert_array_equal(ca1.values[inside], computed.values[inside])
    assert np.isnan(ca1.values[~inside]).all()
    xr.testing.assert_identical(r.compute(), computed)


def test_seed_correlation_on_the_real_sample(sample):
    ds = sample
    values = sample_values()
    xyz = (-1.5e-3, 0.5e-3, -3.5e-3)
    r = seed_correlation(ds, xyz, min_experiments=2).compute()
    flat = np.ravel_multi_index(
        tuple(
            int(np.argmin(np.abs(ds[d].values - xyz[k])))
            for d, k in (("ml", 0), ("dv", 2), ("ap", 1))
        ),
        layout.GRID_SHAPE,
    )
    expected, n = pearson_reference(values, values[:, flat], 2)
    got = r.values.reshape(-1)
    np.testing.assert_array_equal(r["n_experiments"].values.reshape(-1), n)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert {-1.0, 1.0} == set(np.round(got[np.isfinite(got)], 9))  # two experiments
    region = seed_correlation(ds, region="CP", min_experiments=2).compute()
    mask = region_mask(ds, "CP").values.reshape(-1)
    y = np.nanmean(values[:, mask], axis=1)
    expected, _ = pearson_reference(values, y, 2)
    np.testing.assert_allclose(region.values.reshape(-1), expected, rtol=1e-9, atol=1e-12)


# --- issue 10, case 5: a point half-way between voxel centres, as iblatlas decides -----
def _halfway_points() -> np.ndarray:
    """Points exactly half-way between voxel centres along one, two or three axes."""
    rng = np.random.default_rng(5)
    index = rng.integers([2, 2, 2], np.array([58, 67, 41]) - 2, size=(60, 3))
    offsets = np.array([[0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5], [0.5, 0.5, 0.5]])
    points = [XYZ0 + (i + o) * DXYZ for i in index for o in offsets[rng.integers(0, 4, 1)]]
    return np.array(points)


def test_seed_voxel_of_halfway_points_is_iblatlas(sample):
    points = _halfway_points()
    scaled = (points - XYZ0) / DXYZ
    ties = np.isclose(np.abs(scaled - np.floor(scaled)), 0.5)
    assert ties.any(axis=1).all()  # every point is a tie along at least one axis
    disagree_with_argmin = 0
    for point in points:
        r = seed_correlation(sample, point, min_experiments=2)  # lazy: the voxel is known
        expected = i2xyz(xyz2i(point)[0])
        np.testing.assert_allclose(r.attrs["seed_xyz"], expected, atol=1e-12)
        nearest = [
            float(sample[d].values[np.argmin(np.abs(sample[d].values - v))])
            for d, v in zip(("ml", "ap", "dv"), point, strict=True)
        ]
        disagree_with_argmin += not np.allclose(nearest, expected, atol=1e-12)
    assert disagree_with_argmin > 0  # the former rule (first minimum) differs on ties


def test_seed_in_a_subset_of_the_grid(ds, values):
    sub = ds.isel(ap=slice(20, 50))
    point = i2xyz([20, 30, 15])
    r = seed_correlation(sub, point, min_experiments=2).compute()
    flat = np.ravel_multi_index((20, 15, 30), layout.GRID_SHAPE)
    full = seed_correlation(ds, point, min_experiments=2).compute()
    np.testing.assert_allclose(r.values, full.isel(ap=slice(20, 50)).values, equal_nan=True)
    assert r.attrs["seed_xyz"] == full.attrs["seed_xyz"]
    assert np.isfinite(values[:, flat]).any()
    with pytest.raises(ValueError, match="seed's voxel \\(ap = .*is not in this dataset"):
        seed_correlation(sub, i2xyz([20, 5, 15]))


# --- issue 10, case 17: bad seeds and empty selections say what to do -----------------
@pytest.mark.parametrize(
    ("xyz", "message"),
    [
        ("abc", "xyz must be 3 numbers, x=ML, y=AP, z=DV in metres"),
        ([0.0, 1e-3], "xyz must be 3 numbers"),
        ([0.0, 1e-3, float("nan")], r"xyz\[2\] \(z, DV\) must be a finite number"),
        ([0.0, "a", 0.0], r"xyz\[1\] \(y, AP\) must be a number .*Pass xyz as 3 numbers"),
    ],
)
def test_bad_seed_points(ds, xyz, message):
    with pytest.raises(ValueError, match=message):
        seed_correlation(ds, xyz)


def test_bad_min_experiments_and_empty_selection(ds):
    with pytest.raises(ValueError, match="min_experiments must be at least 1, got 0"):
        seed_correlation(ds, SEED_XYZ, min_experiments=0)
    with pytest.raises(ValueError, match="min_experiments must be a whole number, got 2.5"):
        seed_correlation(ds, SEED_XYZ, min_experiments=2.5)
    with pytest.raises(ValueError, match="No experiment is selected.*needs at least 10"):
        seed_correlation(ds.isel(experiment=[]), SEED_XYZ)
