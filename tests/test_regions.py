"""Regions: volumes, tables and masks, against iblatlas' BrainRegions and BrainAtlas."""

from __future__ import annotations

import re

import dask
import numpy as np
import pytest
import xarray as xr

import agea_xr
from agea_xr import layout
from agea_xr.regions import (
    MAPPINGS,
    brain_regions,
    hemisphere_mask,
    index_of_ids,
    is_left,
    label_from_allen_ids,
    region_ids,
    region_mask,
)
from agea_xr.testing import write_synthetic

LEFT = np.arange(layout.GRID_SHAPE[0]) <= layout.LEFT_ML_MAX_INDEX


def random_label(seed: int, sign: str = "any") -> np.ndarray:
    """A label volume of random BrainRegions indices (30 % void).

    ``sign``: "any" (indices of both signs anywhere, unrelated to position),
    "positive" (only positive ids, a non-lateralised label) or "negative".
    """
    br = brain_regions()
    rng = np.random.default_rng(seed)
    pool = {
        "any": np.arange(1, br.id.size),
        "positive": np.flatnonzero(br.id > 0),
        "negative": np.flatnonzero(br.id < 0),
    }[sign]
    label = rng.choice(pool, size=layout.GRID_SHAPE).astype(np.int16)
    label[rng.random(layout.GRID_SHAPE) < 0.3] = 0
    return label


def dataset_with_label(folder, label: np.ndarray) -> xr.Dataset:
    write_synthetic(folder, 3)
    np.save(folder / layout.LABEL_FILE, label)
    return agea_xr.open_dataset(folder)


@pytest.fixture(scope="module")
def random_ds(tmp_path_factory) -> xr.Dataset:
    """A synthetic dataset whose label is random (both signs, anywhere)."""
    return dataset_with_label(tmp_path_factory.mktemp("random") / "agea", random_label(0))


@pytest.fixture(scope="module", params=["sample", "random"])
def any_ds(request, random_ds) -> xr.Dataset:
    return agea_xr.open_sample() if request.param == "sample" else random_ds


def voxel_centres() -> np.ndarray:
    """Every voxel centre as (ml, dv, ap, 3) x, y, z in metres."""
    ml, dv, ap = np.meshgrid(
        layout.ml_coords(), layout.dv_coords(), layout.ap_coords(), indexing="ij"
    )
    return np.stack([ml, ap, dv], axis=-1)


# --- regions() ----------------------------------------------------------------------
@pytest.mark.parametrize("mapping", MAPPINGS)
def test_regions_equal_iblatlas_get_labels_at_every_voxel_centre(any_ds, mapping):
    ba = any_ds.agea.to_brain_atlas()
    expected = ba.get_labels(voxel_centres().reshape(-1, 3), mapping=mapping)
    got = any_ds.agea.regions(mapping)
    assert got.dims == ("ml", "dv", "ap")
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got.values.reshape(-1), expected)
    assert got.attrs["mapping"] == mapping
    xr.testing.assert_equal(got.ml, any_ds.ml)


def test_regions_are_lateralised_only_in_lr_mappings():
    ds = agea_xr.open_sample()
    plain = ds.agea.regions("Beryl").values
    lr = ds.agea.regions("Beryl-lr").values
    assert (plain >= 0).all()
    # iblatlas sends voxels a mapping leaves out to (positive) root, 997, on both sides
    assert ((lr[LEFT] <= 0) | (lr[LEFT] == 997)).all() and (lr[~LEFT] >= 0).all()
    assert (lr[LEFT] < 0).any() and (lr[LEFT] == 997).any()
    np.testing.assert_array_equal(np.abs(lr), plain)


def test_regions_of_sample_hold_known_anatomy():
    ds = agea_xr.open_sample()
    cosmos = ds.agea.regions("Cosmos")
    # caudoputamen territory (cerebral nuclei) 1 mm anterior, 2 mm lateral, 3.5 mm deep
    assert int(cosmos.sel(ml=2.0e-3, ap=1.0e-3, dv=-3.5e-3, method="nearest")) == 623
    assert int(cosmos.sel(ml=-2.0e-3, ap=1.0e-3, dv=-3.5e-3, method="nearest")) == 623
    assert int(cosmos.sel(ml=0.0, ap=5.0e-3, dv=0.0, method="nearest")) == 0


def test_regions_mapping_error_suggests():
    ds = agea_xr.open_sample()
    with pytest.raises(ValueError, match=r"Unknown region mapping 'beril'.*'Beryl'"):
        ds.agea.regions("beril")
    assert ds.agea.regions("cosmos").attrs["mapping"] == "Cosmos"


VALID = "'Allen', 'Allen-lr', 'Beryl', 'Beryl-lr', 'Cosmos', 'Cosmos-lr', 'Swanson', 'Swanson-lr'"


@pytest.mark.parametrize(
    ("mapping", "got"),
    [
        (xr.DataArray(["Beryl", "Allen"]), "DataArray with shape (2,)"),
        (xr.DataArray("Beryl"), "DataArray with shape ()"),
        (np.array("Beryl"), "ndarray with shape ()"),
        (None, "NoneType None"),
        (3, "int 3"),
        (["Beryl"], "list ['Beryl']"),
        (b"Beryl", "bytes b'Beryl'"),
    ],
)
def test_a_mapping_that_is_no_string_is_a_type_error_naming_the_mappings(mapping, got):
    from agea_xr.regions import check_mapping

    message = f"mapping must be the name of a region mapping, one of {VALID}; got {got}."
    with pytest.raises(TypeError) as err:
        check_mapping(mapping)
    assert str(err.value) == message
    assert check_mapping(np.str_("beryl-LR")) == "Beryl-lr"


def test_every_analysis_refuses_an_array_as_mapping_with_the_same_message():
    ds = agea_xr.open_sample()
    pdyn = ds.agea.gene("Pdyn")
    clusters = ds.agea.clusters(3, mask="CTX", random_state=0)
    means = ds.agea.region_expression().sel(gene="Pdyn").compute()
    bad = xr.DataArray(["Beryl", "Allen"])
    calls = [
        lambda: agea_xr.agreement(clusters, mapping=bad),
        lambda: ds.agea.regions(bad),
        lambda: agea_xr.region_table(bad),
        lambda: ds.agea.region_mask("CTX", mapping=bad),
        lambda: ds.agea.sel_region("CTX", mapping=bad),
        lambda: ds.agea.region_at([0.0, -2.0e-3, -2.0e-3], mapping=bad),
        lambda: ds.agea.region_map(means, mapping=bad),
        lambda: ds.agea.region_expression(mapping=bad),
        lambda: ds.agea.seed_correlation(region="CP", mapping=bad),
        lambda: ds.agea.gene_finder("CP", mapping=bad),
        lambda: ds.agea.voxel_matrix("CTX", mapping=bad),
        lambda: ds.agea.decode(pdyn, mapping=bad),
        lambda: ds.agea.similar_genes(pdyn, "CTX", mapping=bad),
        lambda: ds.agea.clusters(3, mask="CTX", mapping=bad),
    ]
    message = f"mapping must be the name of a region mapping, one of {VALID}; got DataArray"
    for call in calls:
        with pytest.raises(TypeError, match=re.escape(message)):
            call()


def test_an_array_where_one_choice_is_expected_is_a_type_error_naming_the_choices():
    ds = agea_xr.open_sample()
    pdyn = ds.agea.gene("Pdyn")
    with pytest.raises(TypeError) as err:
        ds.agea.region_expression(hemisphere=xr.DataArray(["left", "right"]))
    assert str(err.value) == (
        "The hemisphere is one value, one of None, 'left', 'right', 'split'; got DataArray "
        "with shape (2,)."
    )
    with pytest.raises(TypeError) as err:
        ds.agea.similar_genes(pdyn, method=np.array(["pearson"]))
    assert str(err.value) == (
        "The method is one value, one of 'pearson', 'spearman'; got ndarray with shape (1,)."
    )
    assert ds.agea.region_mask("CTX", hemisphere=np.str_("left")).any()


# --- region_table -------------------------------------------------------------------
@pytest.mark.parametrize("mapping", MAPPINGS)
def test_region_table_lists_the_regions_of_the_mapping(mapping):
    br = brain_regions()
    table = agea_xr.region_table(mapping)
    assert list(table.columns) == ["id", "acronym", "name", "rgb", "level", "parent"]
    expected_ids = br.id[np.unique(br.mappings[mapping])]
    np.testing.assert_array_equal(table["id"].to_numpy(), expected_ids)
    assert table["id"].is_unique
    assert ((table["id"] < 0).any()) == mapping.endswith("-lr")
    index = {int(i): k for k, i in enumerate(br.id)}
    for row in table.sample(20, random_state=0, replace=True).itertuples():
        k = index[row.id]
        assert row.acronym == br.acronym[k]
        assert row.name == br.name[k]
        assert row.rgb == tuple(int(c) for c in br.rgb[k])
        assert row.level == br.level[k]


def test_region_table_rows():
    table = agea_xr.open_sample().agea.region_table("Allen").set_index("id")
    assert table.loc[382, "acronym"] == "CA1"
    assert table.loc[382, "parent"] == 375  # Ammon's horn
    assert table.loc[0, "acronym"] == "void"
    assert table.loc[997, "parent"] == 0
    assert table.loc[672, "name"] == "Caudoputamen"


# --- region_mask --------------------------------------------------------------------
def expected_mask(label: np.ndarray, region_id: int, mapping: str) -> np.ndarray:
    """Voxels whose id under ``mapping`` is in iblatlas' descendants (either side)."""
    br = brain_regions()
    ids = region_ids(label, mapping)
    both = np.r_[br.descendants(region_id).id, br.descendants(-region_id).id]
    return np.isin(ids, both)


REGIONS = [("CA1", 382), ("HPF", 1089), ("Isocortex", 315), ("CP", 672), ("VISp", 385)]


@pytest.mark.parametrize("mapping", ["Allen", "Allen-lr", "Beryl", "Swanson-lr"])
@pytest.mark.parametrize(("acronym", "region_id"), REGIONS)
def test_region_mask_equals_iblatlas_descendants(any_ds, mapping, acronym, region_id):
    label = any_ds.label.values
    expected = expected_mask(label, region_id, mapping)
    got = any_ds.agea.region_mask(acronym, mapping=mapping)
    assert got.dtype == bool and got.dims == ("ml", "dv", "ap")
    np.testing.assert_array_equal(got.values, expected)
    np.testing.assert_array_equal(
        any_ds.agea.region_mask(region_id, mapping=mapping).values, expected
    )


def test_region_mask_has_descendants_and_both_sides():
    ds = agea_xr.open_sample()
    hpf = ds.agea.region_mask("HPF")
    ca1 = ds.agea.region_mask("CA1")
    assert int(ca1.sum()) > 100
    assert bool((hpf | ~ca1).all())  # CA1 lies inside HPF
    assert int(hpf.sum()) > int(ca1.sum())
    # CA1 itself is hardly ever a voxel's finest label: its layers are
    allen = ds.agea.regions("Allen").values
    assert int((allen == 382).sum()) < int(ca1.sum())
    assert ca1.values[LEFT].any() and ca1.values[~LEFT].any()


def test_region_mask_several_regions_is_the_union(any_ds):
    union = any_ds.agea.region_mask(["CA1", 672, "VISp"]).values
    parts = [any_ds.agea.region_mask(r).values for r in ("CA1", "CP", "VISp")]
    np.testing.assert_array_equal(union, parts[0] | parts[1] | parts[2])


@pytest.mark.parametrize("sign", ["lateralised", "positive", "negative"])
def test_hemispheres_split_at_the_midline_whatever_the_sign(tmp_path, sign):
    if sign == "lateralised":
        ds = agea_xr.open_sample()
    else:
        ds = dataset_with_label(tmp_path / "agea", random_label(1, sign))
    both = ds.agea.region_mask("root").values
    left = ds.agea.region_mask("root", hemisphere="left").values
    right = ds.agea.region_mask("root", hemisphere="right").values
    assert both[LEFT].any() and both[~LEFT].any()
    np.testing.assert_array_equal(left, both & LEFT[:, None, None])
    np.testing.assert_array_equal(right, both & ~LEFT[:, None, None])
    assert not left[layout.LEFT_ML_MAX_INDEX + 1 :].any()
    assert left[layout.LEFT_ML_MAX_INDEX].any()  # voxel 28 (x = -0.139 mm) is left
    # a negative id means that region's left copy, decided by position as well
    np.testing.assert_array_equal(ds.agea.region_mask(-997).values, left)


def test_region_mask_errors():
    ds = agea_xr.open_sample()
    with pytest.raises(
        KeyError, match=r"Unknown brain region acronym 'ca1'\. Closest matches: CA1"
    ):
        ds.agea.region_mask("ca1")
    with pytest.raises(KeyError, match="Closest matches: VISp"):
        ds.agea.region_mask(["CA1", "VISpp"])
    with pytest.raises(KeyError, match="Unknown brain region id 123456789"):
        ds.agea.region_mask(123456789)
    with pytest.raises(TypeError, match="acronym .* or an Allen structure id"):
        ds.agea.region_mask(3.5)
    with pytest.raises(ValueError, match="Unknown hemisphere 'both'"):
        ds.agea.region_mask("CA1", hemisphere="both")
    with pytest.raises(ValueError, match="finer than the Cosmos mapping.*'HPF'"):
        ds.agea.region_mask("CA1", mapping="Cosmos")
    with pytest.raises(ValueError, match="No region given"):
        ds.agea.region_mask([])


def test_a_region_at_the_mapping_level_or_above_works():
    ds = agea_xr.open_sample()
    # HPF is a Cosmos region; "CH" (cerebrum) lies above it and holds several
    np.testing.assert_array_equal(
        ds.agea.region_mask("HPF", mapping="Cosmos").values, ds.agea.region_mask("HPF").values
    )
    cosmos_ch = ds.agea.region_mask("CH", mapping="Cosmos").values
    assert cosmos_ch.sum() > ds.agea.region_mask("HPF").values.sum()


# --- DataArrays need the label --------------------------------------------------------
def test_dataarray_without_label_is_told_to_use_the_dataset():
    ds = agea_xr.open_sample()
    for call in (
        lambda: ds.expression.agea.region_mask("CA1"),
        lambda: ds.expression.agea.regions(),
        lambda: ds.expression.agea.sel_region("CA1"),
    ):
        with pytest.raises(ValueError, match=r"no 'label' coordinate.*on the Dataset"):
            call()


def test_dataarray_with_label_coordinate_works():
    ds = agea_xr.open_sample()
    da = ds.expression.assign_coords(label=ds.label)
    xr.testing.assert_equal(da.agea.region_mask("CP"), ds.agea.region_mask("CP"))
    pdyn = ds.agea.gene("Pdyn")  # carries the label
    xr.testing.assert_equal(pdyn.agea.regions("Beryl"), ds.agea.regions("Beryl"))


def test_dataset_without_label(tmp_path):
    folder = write_synthetic(tmp_path / "agea", 2)
    (folder / layout.LABEL_FILE).unlink()
    ds = agea_xr.open_dataset(folder)
    with pytest.raises(ValueError, match=r"no 'label' volume \(label\.npy\)"):
        ds.agea.region_mask("CA1")


# --- sel_region ---------------------------------------------------------------------
def test_sel_region_masks_values_and_keeps_label(random_ds):
    mask = random_ds.agea.region_mask("HPF").values
    out = random_ds.agea.sel_region("HPF")
    assert dask.is_dask_collection(out.expression)
    values = out.expression.values
    full = random_ds.expression.values
    np.testing.assert_array_equal(values[:, mask], full[:, mask])
    assert np.isnan(values[:, ~mask]).all()
    np.testing.assert_array_equal(out.label.values, random_ds.label.values)
    np.testing.assert_array_equal(np.isnan(out.image.values), ~mask)


def test_sel_region_crop_is_the_bounding_box():
    ds = agea_xr.open_sample()
    mask = ds.agea.region_mask("CA1", hemisphere="right").values
    box = [np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != k))) for k in range(3)]
    out = ds.agea.sel_region("CA1", hemisphere="right", crop=True)
    assert dict(out.expression.sizes) == {
        "experiment": 2,
        "ml": box[0][-1] - box[0][0] + 1,
        "dv": box[1][-1] - box[1][0] + 1,
        "ap": box[2][-1] - box[2][0] + 1,
    }
    assert float(out.ml.min()) > 0  # right hemisphere only
    np.testing.assert_array_equal(out.ml.values, ds.ml.values[box[0][0] : box[0][-1] + 1])
    inner = ds.expression.values[:, box[0][0] : box[0][-1] + 1, box[1][0] : box[1][-1] + 1]
    inner = inner[..., box[2][0] : box[2][-1] + 1]
    sub = mask[box[0][0] : box[0][-1] + 1, box[1][0] : box[1][-1] + 1, box[2][0] : box[2][-1] + 1]
    np.testing.assert_array_equal(out.expression.values[:, sub], inner[:, sub])


def test_sel_region_on_a_dataarray_and_empty_crop():
    ds = agea_xr.open_sample()
    pdyn = ds.agea.gene("Pdyn")
    out = pdyn.agea.sel_region("CP")
    mask = ds.agea.region_mask("CP").values
    np.testing.assert_array_equal(out.values[mask], pdyn.values[mask])
    assert np.isnan(out.values[~mask]).all()
    with pytest.raises(ValueError, match="holds no voxel"):
        ds.isel(ml=slice(0, 3)).agea.sel_region("CA1", crop=True)


# --- one owner: BrainRegions facts, id -> index, hemispheres ---------------------------
def test_n_brain_regions_is_the_length_of_iblatlas_brain_regions():
    assert layout.N_BRAIN_REGIONS == brain_regions().id.size == 2655


def test_index_of_ids_is_the_inverse_of_brain_regions_id():
    br = brain_regions()
    np.testing.assert_array_equal(index_of_ids(br.id), np.arange(br.id.size))
    assert index_of_ids(np.array([[672, -672], [0, 997]])).shape == (2, 2)
    assert br.acronym[index_of_ids([672, -672, 0])].tolist() == ["CP", "CP", "void"]
    with pytest.raises(ValueError, match=r"2 structure id\(s\) are unknown.*\[5, 123456789\]"):
        index_of_ids([672, 5, 123456789])
    with pytest.raises(ValueError, match="fractional"):
        index_of_ids([672.5])


def test_is_left_decides_by_position_on_any_selection():
    ds = agea_xr.open_sample()
    np.testing.assert_array_equal(is_left(ds), np.broadcast_to(LEFT[:, None, None], (58, 41, 67)))
    np.testing.assert_array_equal(is_left(ds.label.values), is_left(ds))  # numpy: the grid
    part = ds.isel(ml=slice(None, None, -3), ap=slice(10, 12))
    np.testing.assert_array_equal(is_left(part)[:, 0, 0], part.ml.values < 0)
    assert is_left(part).shape == (20, 41, 2)
    assert is_left(ds.expression).shape == (58, 41, 67)
    np.testing.assert_array_equal(hemisphere_mask(ds, "right"), ~is_left(ds))
    assert hemisphere_mask(ds, None).all() and hemisphere_mask(ds, None).shape == (58, 41, 67)
    with pytest.raises(ValueError, match=r"Unknown hemisphere 'lft'.*Did you mean 'left'\?"):
        hemisphere_mask(ds, "lft")
    with pytest.raises(ValueError, match="lacks as a dimension"):
        is_left(ds.isel(ml=3))
    with pytest.raises(ValueError, match="whole AGEA grid"):
        is_left(np.zeros((3, 41, 67)))


# --- issue 10 case 1: label values outside BrainRegions -----------------------------------
def test_label_of_allen_ids_is_refused_at_open_and_points_to_the_conversion(tmp_path):
    sample = agea_xr.open_sample()
    allen_ids = np.abs(region_ids(sample.label.values, "Allen")).astype(np.int32)
    folder = write_synthetic(tmp_path / "agea", 2)
    np.save(folder / layout.LABEL_FILE, allen_ids)
    top = int(allen_ids.max())
    assert top > layout.N_BRAIN_REGIONS
    with pytest.raises(ValueError) as info:
        agea_xr.open_dataset(folder)
    message = str(info.value)
    assert str(folder / layout.LABEL_FILE) in message
    assert f"holds values 0 .. {top}" in message and "0 .. 2654" in message
    assert "agea_xr.regions.label_from_allen_ids" in message
    # and the remedy gives back iblatlas' label, exactly
    np.testing.assert_array_equal(label_from_allen_ids(allen_ids), sample.label.values)


def test_negative_label_indices_are_refused_at_open(tmp_path):
    label = agea_xr.open_sample().label.values.copy()
    label[30, 20, 30] = -3  # numpy would read the last rows of the region table
    folder = write_synthetic(tmp_path / "agea", 2)
    np.save(folder / layout.LABEL_FILE, label)
    with pytest.raises(ValueError, match=r"label\.npy' holds values -3 \.\. \d+.*1 voxel\(s\)"):
        agea_xr.open_dataset(folder)


def test_bad_label_attached_by_hand_is_refused_not_wrapped():
    ds = agea_xr.open_sample()
    bad = ds.label.copy(data=ds.label.values.astype(np.int64))
    bad[0, 0, 0] = -3
    da = ds.expression.assign_coords(label=bad)
    for call in (
        lambda: da.agea.region_mask("CP"),
        lambda: da.agea.regions("Beryl"),
        lambda: da.agea.region_at([[0.0, 0.0, -3.0e-3]]),
    ):
        with pytest.raises(ValueError, match=r"The label volume holds values -3 \.\."):
            call()
    with pytest.raises(ValueError, match="holds values 0 .. 5000.*label_from_allen_ids"):
        region_ids(np.array([0, 5000]))


# --- region_mask(descendants=False) -----------------------------------------------------------
@pytest.mark.parametrize(
    ("region", "region_id", "mapping"),
    [
        ("CA1", 382, "Allen"),
        ("CP", 672, "Beryl"),
        ("CP", -672, "Beryl-lr"),
        ("HPF", 1089, "Cosmos"),
    ],
)
def test_region_mask_without_descendants_is_the_voxels_labelled_exactly(
    any_ds, region, region_id, mapping
):
    ids = region_ids(any_ds.label.values, mapping)
    expected = np.abs(ids) == abs(region_id)
    if region_id < 0:
        expected &= LEFT[:, None, None]
    got = region_mask(any_ds, region_id, mapping=mapping, descendants=False)
    np.testing.assert_array_equal(got.values, expected)
    assert got.attrs["long_name"].startswith("voxels labelled exactly")


def test_region_mask_without_descendants_on_the_sample():
    ds = agea_xr.open_sample()
    # midbrain: 634 voxels carry the label MB itself, 4729 are MB or a region inside it
    exact = region_mask(ds, "MB", descendants=False)
    allen = np.abs(ds.agea.regions("Allen").values)
    np.testing.assert_array_equal(exact.values, allen == 313)
    assert int(exact.sum()) == 634
    assert int(region_mask(ds, "MB").sum()) == 4729
    assert not region_mask(ds, "CA1", descendants=False).any()  # only its layers are labels
    with pytest.raises(ValueError, match="'HPF'.*not a region of the Beryl mapping.*descendants"):
        region_mask(ds, "HPF", mapping="Beryl", descendants=False)
    with pytest.raises(ValueError, match="finer than the Cosmos mapping"):
        region_mask(ds, "CA1", mapping="Cosmos", descendants=False)
    with pytest.raises(TypeError, match="descendants must be True or False"):
        region_mask(ds, "CA1", descendants="no")
