"""Analyses against plain-numpy references, on synthetic data and on the real sample."""

from __future__ import annotations

import os
import subprocess
import sys

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from dask.callbacks import Callback

import agea_xr
from agea_xr import layout
from agea_xr.analysis import (
    _expression,
    gene_finder,
    region_expression,
    seed_correlation,
    voxel_matrix,
)
from agea_xr.regions import brain_regions, region_ids, region_mask

SEED_XYZ = (-1.5e-3, -2.0e-3, -1.5e-3)


# --- references ---------------------------------------------------------------------
def _decoded(raw: np.ndarray) -> np.ndarray:
    values = raw.astype(np.float64)
    values[raw == -1] = np.nan
    return values.reshape(raw.shape[0], -1)


@pytest.fixture(scope="module")
def ds(synthetic_dir):
    return agea_xr.open_dataset(synthetic_dir)


@pytest.fixture(scope="module")
def ds5(synthetic_dir):
    """The same data in chunks of 5 experiments (5, 5, 2): results must combine chunks."""
    opened = agea_xr.open_dataset(synthetic_dir, chunks={"experiment": 5})
    assert opened["expression"].chunks[0] == (5, 5, 2)
    assert _expression(opened)[1] is True  # still the raw-bits path, over 3 chunks
    return opened


@pytest.fixture(scope="module")
def values(synthetic_raw):
    """(experiment, voxel) float64 reference values, NaN where the file holds -1."""
    return _decoded(synthetic_raw)


@pytest.fixture(scope="module")
def label(ds):
    return ds["label"].values


def _region_reference(values, keys, stat):
    """Per experiment and key, a statistic of the measured voxels (pandas groupby)."""
    rows = {}
    for e, row in enumerate(values):
        frame = pd.DataFrame({"key": keys, "x": row})
        frame = frame[frame["key"] != 0]
        grouped = frame.groupby("key")["x"]
        if stat == "mean":
            rows[e] = grouped.mean()
        elif stat == "median":
            rows[e] = grouped.median()
        elif stat == "std":
            rows[e] = grouped.std(ddof=0)
        elif stat == "count":
            rows[e] = grouped.count()
    return pd.DataFrame(rows).T


def _pearson_reference(values, y, min_experiments):
    ok = ~np.isnan(values) & ~np.isnan(y)[:, None]
    n = ok.sum(0)
    x = np.where(ok, values, 0.0)
    yy = np.where(ok, y[:, None], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx, my = x.sum(0) / n, yy.sum(0) / n
        dx, dy = np.where(ok, values - mx, 0), np.where(ok, y[:, None] - my, 0)
        r = (dx * dy).sum(0) / np.sqrt((dx * dx).sum(0) * (dy * dy).sum(0))
    r[n < min_experiments] = np.nan
    return r, n


class _NoExpressionReads(Callback):
    """Fails if a dask computation reads the expression (small volumes may compute)."""

    def _start(self, dsk):
        read = [k for k in dsk if "expression" in str(k) or "agea-bits" in str(k)]
        if read:
            raise AssertionError(f"the expression was read while it should stay lazy: {read[:3]}")


# --- region_expression ------------------------------------------------------------
@pytest.mark.parametrize("chunked", [False, True], ids=["one-chunk", "chunks-of-5"])
@pytest.mark.parametrize("stat", ["mean", "median", "std", "count"])
def test_region_expression_matches_numpy(ds, ds5, values, label, stat, chunked):
    ds = ds5 if chunked else ds
    with _NoExpressionReads():
        lazy = region_expression(ds, "Beryl", stat)
    result = lazy.compute()
    expected = _region_reference(values, region_ids(label, "Beryl").reshape(-1), stat)
    got = result.to_pandas()
    got.columns = result["region"].values
    assert set(got.columns) == set(expected.columns)
    np.testing.assert_allclose(
        got[expected.columns].to_numpy(dtype=float), expected.to_numpy(), rtol=1e-6, atol=1e-9
    )
    assert list(result["experiment"].values) == list(ds["experiment"].values)
    assert result.dims == ("experiment", "region")


def test_missing_voxels_are_not_zeros(synthetic_dir, ds, values, label):
    """A voxel measured in only some experiments counts only where measured."""
    ids = region_ids(label, "Beryl").reshape(-1)
    # a region and a voxel in it that is -1 in experiment 0 but measured in experiment 1
    voxel = next(v for v in np.flatnonzero(ids != 0) if np.isnan(values[0, v]))
    assert not np.isnan(values[1, voxel])
    rid = ids[voxel]
    m = region_expression(ds, "Beryl", ["mean", "count", "fraction_measured"]).compute()
    cell = m.sel(region=rid)
    inside = ids == rid
    for e in (0, 1):
        measured = values[e, inside][~np.isnan(values[e, inside])]
        assert int(cell["count"][e]) == measured.size
        assert float(cell["mean"][e]) == pytest.approx(measured.mean(), rel=1e-12)
        # the mean with zeros instead of missing would be lower
        assert float(cell["mean"][e]) > np.nan_to_num(values[e, inside]).mean()
        assert float(cell["fraction_measured"][e]) == pytest.approx(measured.size / inside.sum())
    assert int(cell["voxels"]) == inside.sum()


def test_region_coordinates(ds):
    m = region_expression(ds, "Cosmos")
    br = brain_regions()
    ids = m["region"].values
    for rid, acronym, name in zip(ids, m["acronym"].values, m["name"].values, strict=True):
        i = int(np.flatnonzero(br.id == rid)[0])
        assert (br.acronym[i], br.name[i]) == (acronym, name)
    assert 0 not in ids
    assert {"HPF", "CB", "Isocortex"} <= set(m["acronym"].values)
    assert "hemisphere" not in m.coords
    assert m.sel(gene="Pdyn").sizes["experiment"] == 1


def test_root_row_holds_the_voxels_the_mapping_leaves_unassigned(ds, label):
    m = region_expression(ds, "Beryl", "count")
    ids = region_ids(label, "Beryl")
    assert 997 in m["region"].values
    assert str(m["acronym"].sel(region=997).values) == "root"
    assert int(m["voxels"].sel(region=997)) == (np.abs(ids) == 997).sum() > 0
    assert "root" not in m.drop_sel(region=997)["acronym"].values


def test_hemisphere_split_left_right(ds, values, label):
    split = region_expression(ds, "Beryl", "mean", hemisphere="split").compute()
    left = region_expression(ds, "Beryl", "mean", hemisphere="left").compute()
    right = region_expression(ds, "Beryl", "mean", hemisphere="right").compute()
    assert (left["region"] < 0).all() and (right["region"] > 0).all()
    assert set(split["hemisphere"].values) == {"left", "right"}
    xr.testing.assert_allclose(
        split.sel(region=left["region"].values).reset_coords(drop=True),
        left.reset_coords(drop=True),
    )
    ml_left = np.broadcast_to((ds["ml"].values < 0)[:, None, None], label.shape).reshape(-1)
    keys = np.abs(region_ids(label, "Beryl").reshape(-1)) * np.where(ml_left, -1, 1)
    expected = _region_reference(values, keys, "mean")
    got = split.to_pandas()
    got.columns = split["region"].values
    np.testing.assert_allclose(got[expected.columns].to_numpy(), expected.to_numpy(), rtol=1e-6)


def test_lateralised_mapping_keeps_label_signs(ds, values, label):
    m = region_expression(ds, "Beryl-lr", "count").compute()
    expected = _region_reference(values, region_ids(label, "Beryl-lr").reshape(-1), "count")
    got = m.to_pandas()
    got.columns = m["region"].values
    np.testing.assert_array_equal(got[expected.columns].to_numpy(), expected.to_numpy())
    assert (m["hemisphere"].values[m["region"].values < 0] == "left").all()


def test_combine_genes_pools_experiments(ds, values, label):
    m = region_expression(ds, "Cosmos", ["mean", "count"], combine_genes=True).compute()
    assert m.sizes["gene"] == len(pd.unique(ds["gene"].values))
    assert int(m["n_experiments"].sel(gene="Gene0002")) == 2  # experiments 2 and 3
    ids = region_ids(label, "Cosmos").reshape(-1)
    rid = 1089  # HPF
    pooled = values[2:4, ids == rid]
    assert float(m["mean"].sel(gene="Gene0002", region=rid)) == pytest.approx(
        np.nanmean(pooled), rel=1e-12
    )
    assert int(m["count"].sel(gene="Gene0002", region=rid)) == np.isfinite(pooled).sum()
    with pytest.raises(ValueError, match="median.*cannot pool"):
        region_expression(ds, "Cosmos", "median", combine_genes=True)


def test_all_read_paths_agree(synthetic_dir, ds):
    """Raw bits (untouched dataset), float16, decoded floats and chunks=None: same result."""
    assert _expression(ds)[1] is True  # the raw-bits fast path
    reference = region_expression(ds, "Beryl", ["mean", "std", "count"]).compute()
    touched = ds.assign(expression=ds["expression"] * 1)
    assert _expression(touched)[1] is None  # decoded floats
    float16 = agea_xr.open_dataset(synthetic_dir, mask=False)
    lazy = agea_xr.open_dataset(synthetic_dir, chunks=None)
    rechunked = ds.chunk({"experiment": 5})
    for other in (touched, float16, lazy, rechunked):
        xr.testing.assert_allclose(
            region_expression(other, "Beryl", ["mean", "std", "count"]).compute(),
            reference,
            rtol=1e-12,
        )


def test_subset_of_experiments(ds, values, label):
    sub = ds.isel(experiment=[5, 1, 7])
    m = region_expression(sub, "Cosmos").compute()
    expected = _region_reference(
        values[[5, 1, 7]], region_ids(label, "Cosmos").reshape(-1), "mean"
    )
    got = m.to_pandas()
    got.columns = m["region"].values
    np.testing.assert_allclose(got[expected.columns].to_numpy(), expected.to_numpy(), rtol=1e-6)
    assert list(m["experiment"].values) == list(ds["experiment"].values[[5, 1, 7]])


def test_processed_variant_keeps_minus_one(synthetic_dir):
    """In the processed variant -1 is a value, not 'missing'."""
    from agea_xr.testing import synthetic_values

    for mask in (True, False):
        ds = agea_xr.open_dataset(synthetic_dir, variant="processed", mask=mask)
        m = region_expression(ds, "Cosmos", ["mean", "count"]).compute()
        values = synthetic_values(0, 12, processed=True).astype(np.float64).reshape(12, -1)
        ids = region_ids(ds["label"].values, "Cosmos").reshape(-1)
        assert int(m["count"].sel(region=512)[0]) == (ids == 512).sum()
        assert float(m["mean"].sel(region=512)[0]) == pytest.approx(
            values[0, ids == 512].mean(), rel=1e-12
        )


def test_region_expression_errors(ds):
    with pytest.raises(ValueError, match="Unknown statistic 'maen'.*Did you mean 'mean'"):
        region_expression(ds, stat="maen")
    with pytest.raises(ValueError, match="Unknown region mapping 'Berly'"):
        region_expression(ds, "Berly")
    with pytest.raises(ValueError, match="Unknown hemisphere 'both'"):
        region_expression(ds, hemisphere="both")
    with pytest.raises(ValueError, match="no 'label' volume"):
        region_expression(ds.drop_vars("label"))
    with pytest.raises(ValueError, match="'expression' variable"):
        region_expression(ds["expression"])


def test_region_expression_on_the_real_sample():
    ds = agea_xr.open_sample()
    raw = np.fromfile(
        agea_xr.sample_path() / layout.VARIANTS["raw"], dtype=layout.RAW_DTYPE
    ).reshape(2, *layout.GRID_SHAPE)
    values = _decoded(raw)
    m = region_expression(ds, "Beryl", ["mean", "median"]).compute()
    keys = region_ids(ds["label"].values, "Beryl").reshape(-1)
    for stat in ("mean", "median"):
        expected = _region_reference(values, keys, stat)
        got = m[stat].to_pandas()
        got.columns = m["region"].values
        np.testing.assert_allclose(got[expected.columns].to_numpy(), expected.to_numpy(), 1e-6)
    pdyn = m["mean"].sel(gene="Pdyn").squeeze()
    assert float(pdyn.sel(region=672)) > 3 * float(
        pdyn.sel(region=315 if 315 in m.region else 997)
    )


# --- seed_correlation -------------------------------------------------------------
def test_seed_correlation_matches_numpy(ds5, values):
    ds = ds5
    r = seed_correlation(ds, SEED_XYZ, min_experiments=10).compute()
    i = [
        int(np.argmin(np.abs(ds[d].values - v)))
        for d, v in zip(("ml", "ap", "dv"), SEED_XYZ, strict=True)
    ]
    flat = np.ravel_multi_index((i[0], i[2], i[1]), layout.GRID_SHAPE)
    expected, n = _pearson_reference(values, values[:, flat], 10)
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
    expected, _ = _pearson_reference(values, y, 3)
    np.testing.assert_allclose(r.values.reshape(-1), expected, rtol=1e-6, atol=1e-9)


def test_seed_correlation_errors(ds):
    with pytest.raises(ValueError, match="exactly one seed"):
        seed_correlation(ds)
    with pytest.raises(ValueError, match="lies outside the grid"):
        seed_correlation(ds, [0.0, 9e-3, -1e-3])
    with pytest.raises(ValueError, match="3 finite coordinates"):
        seed_correlation(ds, [0.0, 1e-3])
    with pytest.raises(ValueError, match="positive integer"):
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


def test_seed_correlation_on_the_real_sample():
    ds = agea_xr.open_sample()
    raw = np.fromfile(
        agea_xr.sample_path() / layout.VARIANTS["raw"], dtype=layout.RAW_DTYPE
    ).reshape(2, *layout.GRID_SHAPE)
    values = _decoded(raw)
    xyz = (-1.5e-3, 0.5e-3, -3.5e-3)
    r = seed_correlation(ds, xyz, min_experiments=2).compute()
    flat = np.ravel_multi_index(
        tuple(
            int(np.argmin(np.abs(ds[d].values - xyz[k])))
            for d, k in (("ml", 0), ("dv", 2), ("ap", 1))
        ),
        layout.GRID_SHAPE,
    )
    expected, n = _pearson_reference(values, values[:, flat], 2)
    got = r.values.reshape(-1)
    np.testing.assert_array_equal(r["n_experiments"].values.reshape(-1), n)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert {-1.0, 1.0} == set(np.round(got[np.isfinite(got)], 9))  # two experiments
    region = seed_correlation(ds, region="CP", min_experiments=2).compute()
    mask = region_mask(ds, "CP").values.reshape(-1)
    y = np.nanmean(values[:, mask], axis=1)
    expected, _ = _pearson_reference(values, y, 2)
    np.testing.assert_allclose(region.values.reshape(-1), expected, rtol=1e-9, atol=1e-12)


# --- gene_finder --------------------------------------------------------------------
def _finder_reference(values, target, contrast):
    rows = []
    for row in values:
        t, c = row[target], row[contrast]
        t, c = t[~np.isnan(t)], c[~np.isnan(c)]
        pooled = np.sqrt(
            (((t - t.mean()) ** 2).sum() + ((c - c.mean()) ** 2).sum()) / (t.size + c.size - 2)
        )
        rows.append((t.mean(), c.mean(), t.mean() / c.mean(), (t.mean() - c.mean()) / pooled))
    return np.array(rows), None


def test_gene_finder_matches_numpy(ds5, values):
    ds = ds5
    table = gene_finder(ds, "CA1", "HPF")
    target = region_mask(ds, "CA1").values.reshape(-1)
    contrast = region_mask(ds, "HPF").values.reshape(-1) & ~target
    expected, _ = _finder_reference(values, target, contrast)
    by_experiment = table.set_index("experiment").loc[ds["experiment"].values]
    np.testing.assert_allclose(
        by_experiment[["mean_target", "mean_contrast", "fold_change", "effect_size"]].to_numpy(),
        expected,
        rtol=1e-6,
    )
    counts = np.isfinite(values[:, target]).sum(1)
    np.testing.assert_array_equal(by_experiment["n_target"].to_numpy(), counts)
    assert (table["effect_size"].diff().dropna() <= 0).all()
    assert table["rank"].tolist() == list(range(1, 13))
    assert list(by_experiment["gene"]) == list(ds["gene"].values)
    assert table.attrs["contrast_voxels"] == contrast.sum()


def test_gene_finder_default_contrast_and_per_gene(ds, values, label):
    table = gene_finder(ds, ["CA1", "CA3"], per_gene=True, sort_by="fold_change")
    target = region_mask(ds, ["CA1", "CA3"]).values.reshape(-1)
    contrast = (label.reshape(-1) != 0) & ~target
    row = table.set_index("gene").loc["Gene0002"]
    assert row["n_experiments"] == 2 and set(row["experiments"]) == set(
        ds["experiment"].values[2:4]
    )
    pooled_t = values[2:4][:, target]
    pooled_c = values[2:4][:, contrast]
    assert row["mean_target"] == pytest.approx(np.nanmean(pooled_t), rel=1e-12)
    assert row["mean_contrast"] == pytest.approx(np.nanmean(pooled_c), rel=1e-12)
    assert row["n_contrast"] == np.isfinite(pooled_c).sum()
    assert (table["fold_change"].diff().dropna() <= 0).all()
    assert table.attrs["contrast"] == "rest of the brain"


def test_gene_finder_on_the_real_sample():
    ds = agea_xr.open_sample()
    table = gene_finder(ds, "CP")
    assert table["gene"].tolist() == ["Pdyn", "Nrp1"]
    assert table.loc[0, "fold_change"] > 2 and table.loc[0, "effect_size"] > 1
    # every value against plain numpy on the real files
    raw = np.fromfile(
        agea_xr.sample_path() / layout.VARIANTS["raw"], dtype=layout.RAW_DTYPE
    ).reshape(2, *layout.GRID_SHAPE)
    values = _decoded(raw)
    target = region_mask(ds, "CP").values.reshape(-1)
    contrast = (ds["label"].values.reshape(-1) != 0) & ~target
    expected, _ = _finder_reference(values, target, contrast)
    got = table.set_index("experiment").loc[ds["experiment"].values]
    np.testing.assert_allclose(
        got[["mean_target", "mean_contrast", "fold_change", "effect_size"]].to_numpy(),
        expected,
        rtol=1e-9,
    )
    np.testing.assert_array_equal(got["n_target"], np.isfinite(values[:, target]).sum(1))
    np.testing.assert_array_equal(got["n_contrast"], np.isfinite(values[:, contrast]).sum(1))
    assert table.attrs["target_voxels"] == target.sum()
    assert table.attrs["contrast_voxels"] == contrast.sum()


def test_fold_change_is_nan_without_a_positive_contrast_mean(ds, values):
    """A zero contrast mean gave inf (ranked first); a negative one a meaningless ratio."""
    target = region_mask(ds, "CA1").values
    contrast = region_mask(ds, "HPF").values & ~target
    # experiment 4: every contrast voxel measures 0
    zero = xr.zeros_like(ds["expression"]).where(
        (ds["experiment"] == ds["experiment"][4]) & xr.DataArray(contrast, dims=("ml", "dv", "ap"))
    )
    zeroed = ds.assign(expression=zero.fillna(ds["expression"]))
    table = gene_finder(zeroed, "CA1", "HPF", sort_by="fold_change")
    row = table.set_index("experiment").loc[ds["experiment"].values[4]]
    assert row["mean_contrast"] == 0.0 and row["mean_target"] > 0
    assert np.isnan(row["fold_change"])
    assert np.isfinite(row["effect_size"])
    assert np.isfinite(table["fold_change"]).sum() == 11
    assert table["experiment"].iloc[-1] == ds["experiment"].values[4]  # NaN ranks last
    assert (table["fold_change"].iloc[:-1].diff().dropna() <= 0).all()
    # negative means (as in the processed variant): NaN where the contrast mean is <= 0
    shift = float(gene_finder(ds, "CA1", "HPF")["mean_contrast"].median())
    shifted = ds.assign(expression=ds["expression"] - shift)  # half the means below 0
    table = gene_finder(shifted, "CA1", "HPF", sort_by="fold_change")
    negative = table["mean_contrast"] <= 0
    assert negative.any() and (~negative).any()
    assert table.loc[negative, "fold_change"].isna().all()
    assert table.loc[~negative, "fold_change"].notna().all()
    np.testing.assert_allclose(
        table.loc[~negative, "fold_change"],
        table.loc[~negative, "mean_target"] / table.loc[~negative, "mean_contrast"],
        rtol=1e-12,
    )
    assert table["fold_change"].iloc[: (~negative).sum()].notna().all()  # NaN last


def test_gene_finder_errors(ds):
    with pytest.raises(KeyError, match="Unknown brain region acronym 'CA11'"):
        gene_finder(ds, "CA11")
    with pytest.raises(ValueError, match="The contrast.*has no voxel"):
        gene_finder(ds, "HPF", "CA1")
    with pytest.raises(ValueError, match="Unknown sort_by column 'effect'"):
        gene_finder(ds, "CA1", sort_by="effect")
    with pytest.raises(ValueError, match="boolean volume of shape"):
        gene_finder(ds, np.ones(5, bool))


# --- voxel_matrix -------------------------------------------------------------------
def test_voxel_matrix_is_lazy_and_exact(ds, values, label):
    with _NoExpressionReads():
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


# --- schedulers ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def test_distributed_gives_the_threaded_results(ds5, client):
    ds = ds5  # three chunks: the cluster combines partial results across workers
    with dask.config.set(scheduler="threads"):
        m_t = region_expression(ds, "Beryl", ["mean", "median", "count"]).compute()
        r_t = seed_correlation(ds, SEED_XYZ, min_experiments=6).compute()
        f_t = gene_finder(ds, "CA1", "HPF")
    with dask.config.set(scheduler=client.get):
        m_d = region_expression(ds, "Beryl", ["mean", "median", "count"]).compute()
        r_d = seed_correlation(ds, SEED_XYZ, min_experiments=6).compute()
        f_d = gene_finder(ds, "CA1", "HPF")
    xr.testing.assert_identical(m_t, m_d)
    xr.testing.assert_identical(r_t, r_d)
    pd.testing.assert_frame_equal(f_t, f_d)


def test_numba_disabled_gives_the_same_results(synthetic_dir, ds, tmp_path):
    code = (
        "import sys, agea_xr\n"
        "from agea_xr.analysis import region_expression\n"
        "assert not agea_xr.kernels.have_numba()\n"
        "ds = agea_xr.open_dataset(sys.argv[1])\n"
        "region_expression(ds, 'Beryl', ['mean', 'std', 'median']).compute()"
        ".to_netcdf(sys.argv[2])\n"
    )
    out = tmp_path / "fallback.nc"
    env = {**os.environ, "AGEA_XR_DISABLE_NUMBA": "1"}
    subprocess.run([sys.executable, "-c", code, str(synthetic_dir), str(out)], env=env, check=True)
    expected = region_expression(ds, "Beryl", ["mean", "std", "median"]).compute()
    with xr.open_dataset(out) as fallback:
        for name in ("mean", "std", "median"):
            np.testing.assert_array_equal(fallback[name].values, expected[name].values)


def test_accessor_delegates(ds):
    xr.testing.assert_identical(
        ds.agea.region_expression("Cosmos").compute(), region_expression(ds, "Cosmos").compute()
    )
    pd.testing.assert_frame_equal(ds.agea.gene_finder("CA1"), gene_finder(ds, "CA1"))
    assert ds.agea.voxel_matrix("CA1").sizes["voxel"] == voxel_matrix(ds, "CA1").sizes["voxel"]
    r = ds.agea.seed_correlation(SEED_XYZ, min_experiments=6).compute()
    xr.testing.assert_identical(r, seed_correlation(ds, SEED_XYZ, min_experiments=6).compute())
