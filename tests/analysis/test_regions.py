"""region_expression against pandas references; lateralised rows; the region index."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import agea_xr
from agea_xr.analysis import region_expression
from agea_xr.analysis._chunks import expression_matrix
from agea_xr.regions import MAPPINGS, brain_regions, region_ids

from .reference import NoExpressionReads, region_reference, sample_values


@pytest.mark.parametrize("chunked", [False, True], ids=["one-chunk", "chunks-of-5"])
@pytest.mark.parametrize("stat", ["mean", "median", "std", "count"])
def test_region_expression_matches_numpy(ds, ds5, values, label, stat, chunked):
    ds = ds5 if chunked else ds
    with NoExpressionReads():
        lazy = region_expression(ds, "Beryl", stat)
    result = lazy.compute()
    expected = region_reference(values, region_ids(label, "Beryl").reshape(-1), stat)
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
    expected = region_reference(values, keys, "mean")
    got = split.to_pandas()
    got.columns = split["region"].values
    np.testing.assert_allclose(got[expected.columns].to_numpy(), expected.to_numpy(), rtol=1e-6)


def test_lateralised_mapping_keeps_label_signs(ds, values, label):
    m = region_expression(ds, "Beryl-lr", "count").compute()
    # iblatlas gives left voxels negative ids, except the ones Beryl-lr leaves unassigned
    # (+997): every row holds one hemisphere, so those are the -997 row
    left = np.broadcast_to((ds["ml"].values < 0)[:, None, None], label.shape).reshape(-1)
    keys = np.abs(region_ids(label, "Beryl-lr").reshape(-1)) * np.where(left, -1, 1)
    expected = region_reference(values, keys, "count")
    got = m.to_pandas()
    got.columns = m["region"].values
    assert set(got.columns) == set(expected.columns)
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
    assert expression_matrix(ds).mask is True  # the raw-bits fast path
    reference = region_expression(ds, "Beryl", ["mean", "std", "count"]).compute()
    touched = ds.assign(expression=ds["expression"] * 1)
    assert expression_matrix(touched).mask is None  # decoded floats
    float16 = agea_xr.open_dataset(synthetic_dir, mask_and_scale=False)
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
    expected = region_reference(values[[5, 1, 7]], region_ids(label, "Cosmos").reshape(-1), "mean")
    got = m.to_pandas()
    got.columns = m["region"].values
    np.testing.assert_allclose(got[expected.columns].to_numpy(), expected.to_numpy(), rtol=1e-6)
    assert list(m["experiment"].values) == list(ds["experiment"].values[[5, 1, 7]])


def test_processed_variant_keeps_minus_one(synthetic_dir):
    """In the processed variant -1 is a value, not 'missing'."""
    from agea_xr.testing import synthetic_values

    for mask in (True, False):
        ds = agea_xr.open_dataset(synthetic_dir, variant="processed", mask_and_scale=mask)
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


def test_region_expression_on_the_real_sample(sample):
    ds = sample
    values = sample_values()
    m = region_expression(ds, "Beryl", ["mean", "median"]).compute()
    keys = region_ids(ds["label"].values, "Beryl").reshape(-1)
    for stat in ("mean", "median"):
        expected = region_reference(values, keys, stat)
        got = m[stat].to_pandas()
        got.columns = m["region"].values
        np.testing.assert_allclose(got[expected.columns].to_numpy(), expected.to_numpy(), 1e-6)
    pdyn = m["mean"].sel(gene="Pdyn").squeeze()
    assert float(pdyn.sel(region=672)) > 3 * float(
        pdyn.sel(region=315 if 315 in m.region else 997)
    )


# --- issue 10, case 4: under -lr mappings every row holds one hemisphere --------------
def _left(ds) -> np.ndarray:
    return np.broadcast_to((ds["ml"].values < 0)[:, None, None], ds["label"].shape)


@pytest.mark.parametrize("mapping", ["Allen", "Beryl", "Cosmos", "Swanson"])
def test_lateralised_rows_are_the_split_rows(sample, mapping):
    lr = region_expression(sample, f"{mapping}-lr", ["mean", "count"]).compute()
    split = region_expression(sample, mapping, ["mean", "count"], hemisphere="split").compute()
    np.testing.assert_array_equal(lr["region"].values, split["region"].values)
    for name in ("acronym", "voxels", "hemisphere"):
        np.testing.assert_array_equal(lr[name].values, split[name].values)
    np.testing.assert_array_equal(lr["mean"].values, split["mean"].values)
    np.testing.assert_array_equal(lr["count"].values, split["count"].values)
    # every row holds one hemisphere: left rows hold exactly the left brain voxels
    left = _left(sample) & (sample["label"].values != 0)
    negative = lr["region"].values < 0
    assert int(lr["voxels"].values[negative].sum()) == int(left.sum())
    assert (lr["hemisphere"].values == np.where(negative, "left", "right")).all()


def test_beryl_lr_root_rows_on_the_real_sample(sample):
    """iblatlas maps the left unassigned voxels to +997: here they are the -997 row."""
    ids = region_ids(sample["label"].values, "Beryl-lr")
    left = _left(sample)
    assert ((ids == 997) & left).sum() == 4547  # iblatlas' Beryl-lr: left voxels on +997
    m = region_expression(sample, "Beryl-lr", "count").compute()
    assert int(m["voxels"].sel(region=997)) == 4507  # right hemisphere only
    assert int(m["voxels"].sel(region=-997)) == 4547
    assert str(m["hemisphere"].sel(region=997).values) == "right"
    assert str(m["hemisphere"].sel(region=-997).values) == "left"
    assert str(m["acronym"].sel(region=-997).values) == "root"
    values = sample_values()
    root = (np.abs(ids) == 997).reshape(-1)
    flat_left = left.reshape(-1)
    for e in range(2):
        measured = np.isfinite(values[e])
        assert int(m.sel(region=-997)[e]) == (measured & root & flat_left).sum()
        assert int(m.sel(region=997)[e]) == (measured & root & ~flat_left).sum()
    cosmos = region_expression(sample, "Cosmos-lr", "count")
    assert int(cosmos["voxels"].sel(region=-997)) == 1983
    assert int(cosmos["voxels"].sel(region=997)) == 3937 - 1983


# --- issue 10, case 20: .sel of a region that is not a row says where it is ----------
def test_sel_of_a_coarser_mapping_names_the_row_and_the_mappings(sample):
    m = region_expression(sample, "Cosmos")
    expected = (
        "CA1 (382) is not a row of this result under Cosmos. Under Cosmos its voxels fall "
        "into the coarser row HPF (1089), which also holds other regions' voxels. A mean over "
        "the whole region is not a sum of rows: use a mapping that has it as a row, or "
        "ds.agea.sel_region(382) for its voxels. It is a row under Beryl, Beryl-lr, Swanson, "
        "Swanson-lr: region_expression(ds, mapping='Beryl', ...)."
    )
    with pytest.raises(KeyError) as info:
        m.sel(region=382)
    assert info.value.args[0] == expected
    with pytest.raises(KeyError, match=re.escape("CA1 (382) is not a row")):
        m.sel(region=[1089, 382])  # lists too
    with pytest.raises(KeyError, match=re.escape("under Cosmos")):
        m.isel(region=slice(0, 4)).sel(region=382)  # the index survives selections
    assert str(m.sel(region=1089)["acronym"].values) == "HPF"  # rows still select


def test_sel_of_a_finer_mapping_names_the_subdivisions(sample):
    m = region_expression(sample, "Allen")
    br = brain_regions()
    present = np.unique(np.abs(br.id[np.unique(sample["label"].values)]))
    layers = [i for i in np.abs(br.descendants(382).id) if i in present and i != 382]
    assert layers  # the AGEA label holds CA1's layers, not CA1 itself
    with pytest.raises(KeyError) as info:
        m.sel(region=382)
    message = info.value.args[0]
    assert message.startswith("CA1 (382) is not a row of this result under Allen. Under Allen")
    assert f"region={sorted(int(i) for i in layers)}" in message
    assert "It is a row under Beryl, Beryl-lr, Swanson, Swanson-lr" in message
    total = m.sel(region=sorted(int(i) for i in layers))  # the advice works
    assert total.sizes["region"] == len(layers)
    assert "not a sum of rows" in message


def test_sel_never_advises_a_mixed_coarser_row_as_a_subdivision(sample):
    # under Beryl, voxels labelled only as HPF fall into root (997), which holds others too
    message = ""
    try:
        region_expression(sample, "Beryl").sel(region=1089)
    except KeyError as err:
        message = err.args[0]
    subdivisions = message.split("subdivisions ", 1)[1].split("; ", 1)[0]
    assert "997" not in subdivisions and "CA1 (382)" in subdivisions
    assert "voxels labelled only as HPF fall into root (997), which also holds" in message


def test_sel_of_the_other_hemisphere_and_nearest(sample):
    left = region_expression(sample, "Beryl", hemisphere="left")
    with pytest.raises(KeyError, match=re.escape("hemisphere as -382") + ".*region=-382"):
        left.sel(region=382)
    with pytest.raises(ValueError, match="no meaning for region ids"):
        left.sel(region=382, method="nearest")
    with pytest.raises(KeyError, match="not an Allen structure id"):
        left.sel(region=123456789)
    assert set(MAPPINGS) >= {"Beryl", "Beryl-lr"}


# --- CF attributes, empty selections ------------------------------------------------------
def test_cell_methods_are_cf(ds):
    m = region_expression(ds, "Beryl", ["mean", "median", "std", "count"], combine_genes=False)
    assert m["mean"].attrs["cell_methods"] == "area: mean"
    assert m["median"].attrs["cell_methods"] == "area: median"
    assert m["std"].attrs["cell_methods"] == "area: standard_deviation"
    assert "cell_methods" not in m["count"].attrs  # CF has no method for a count
    cf = re.compile(r"^([a-z_]+: )+(mean|median|standard_deviation)$")
    for name in ("mean", "median", "std"):
        assert cf.match(m[name].attrs["cell_methods"])
        assert "left out, not counted as zeros" in m[name].attrs["comment"]
    pooled = region_expression(ds, "Beryl", "mean", combine_genes=True)
    assert pooled.attrs["cell_methods"] == "area: mean"
    assert "all the experiments of each gene" in pooled.attrs["comment"]


def test_empty_experiment_selection_gives_empty_rows(ds):
    empty = ds.isel(experiment=[])
    full = region_expression(ds, "Beryl", ["mean", "count"])
    m = region_expression(empty, "Beryl", ["mean", "median", "count"]).compute()
    assert m.sizes == {"experiment": 0, "region": full.sizes["region"]}
    assert m["mean"].dtype == np.float64 and m["count"].dtype == np.int64
    pooled = region_expression(empty, "Beryl", "mean", combine_genes=True).compute()
    assert pooled.sizes == {"gene": 0, "region": full.sizes["region"]}
