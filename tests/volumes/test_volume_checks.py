"""Cell types and lipids: float32 in memory, found in iblatlas' cache, every bad input named.

Each test writes its own synthetic files (:mod:`agea_xr.testing`) or reads the
session's (``root``, ``ct``, ``lp`` of conftest.py), and asserts the right value or
the exact message.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import agea_xr
import agea_xr.testing as t
from agea_xr import layout
from agea_xr import volumes_layout as vl
from tests.fetch.helpers import one_config, snapshot


@pytest.fixture
def atlas(tmp_path):
    """A private copy of iblatlas' layout, to damage."""
    t.write_agea_grid(tmp_path / "agea")
    t.write_merfish(tmp_path / "merfish", levels=("class", "subclass"))
    t.write_lipids(tmp_path / "lipids")
    return tmp_path


def stored(root, level="class") -> np.ndarray:
    return np.load(root / "merfish" / vl.volume_file(level))


# --- 1. float16 on disk, float32 in memory ------------------------------------------
def test_means_of_the_raw_cell_types_equal_a_float64_reference(root):
    expected = stored(root, "subclass").astype(np.float64)
    for chunks in (None, {}):
        ct = agea_xr.open_cell_types(root / "merfish", "subclass", chunks=chunks)
        assert ct.density.dtype == np.float32
        means = ct.density.mean(["ml", "dv", "ap"]).values
        assert np.isfinite(means).all()
        np.testing.assert_allclose(means, np.nanmean(expected, axis=(1, 2, 3)), rtol=1e-6)
        np.testing.assert_allclose(float(ct.density.mean()), np.nanmean(expected), rtol=1e-6)
        np.testing.assert_allclose(float(ct.density.sum()), np.nansum(expected), rtol=1e-6)


@pytest.mark.parametrize("engine", ["netcdf4", "h5netcdf"])
def test_raw_cell_types_round_trip_through_netcdf_with_plain_xarray(ct, root, tmp_path, engine):
    path = tmp_path / "ct.nc"
    ct.to_netcdf(path, engine=engine)
    with xr.open_dataset(path, engine="netcdf4") as back:  # read with netCDF-C either way
        assert back.density.dtype == np.float32
        np.testing.assert_array_equal(
            back.density.values, stored(root, "subclass").astype(np.float32), strict=True
        )


def test_raw_cell_types_round_trip_through_zarr_with_plain_xarray(ct, root, tmp_path):
    expected = stored(root, "subclass").astype(np.float32)
    ct.to_zarr(tmp_path / "plain.zarr", consolidated=False)
    back = xr.open_zarr(tmp_path / "plain.zarr", consolidated=False)
    assert back.density.dtype == np.float32
    np.testing.assert_array_equal(back.density.values, expected, strict=True)
    ct.agea.export(tmp_path / "ct.zarr")
    exported = xr.open_zarr(tmp_path / "ct.zarr")
    assert exported.density.dtype == np.float32
    np.testing.assert_array_equal(exported.density.values, expected, strict=True)
    np.testing.assert_allclose(
        float(exported.density.mean()), np.nanmean(expected.astype(np.float64)), rtol=1e-6
    )


@pytest.mark.parametrize("engine", ["netcdf4", "h5netcdf"])
def test_the_tree_round_trips_through_netcdf_with_plain_xarray(root, tmp_path, engine):
    tree = agea_xr.open_atlas(root)
    path = tmp_path / "tree.nc"
    tree.to_netcdf(path, engine=engine)
    back = xr.open_datatree(path, engine="netcdf4")
    for level in ("class", "subclass"):
        density = back[f"cell_types/{level}"].ds.density
        assert density.dtype == np.float32
        np.testing.assert_array_equal(
            density.values, stored(root, level).astype(np.float32), strict=True
        )
    lipids = np.load(root / "lipids" / vl.LIPID_FILE)
    np.testing.assert_array_equal(back["lipids"].ds.intensity.values, lipids, strict=True)
    back.close()


@pytest.mark.parametrize("dtype", ["<f2", ">f4", ">f8", "<f8"])
def test_lipid_volumes_of_any_float_are_read_in_native_order(atlas, dtype):
    values = t.lipid_values()
    np.save(atlas / "lipids" / vl.LIPID_FILE, values.astype(dtype))
    lp = agea_xr.open_lipids(atlas / "lipids")
    want = np.dtype(np.float32) if dtype == "<f2" else np.dtype(dtype).newbyteorder("=")
    assert lp.intensity.dtype == want
    got = lp.intensity.isel(lipid=[4, 1]).values
    assert got.dtype == want and got.dtype.isnative
    np.testing.assert_array_equal(got, values.astype(dtype)[[4, 1]].astype(want), strict=True)


def test_a_volume_that_is_not_floating_point_is_refused(atlas):
    path = atlas / "merfish" / vl.volume_file("class")
    np.save(path, np.zeros((8, *layout.GRID_SHAPE), dtype=np.int32))
    with pytest.raises(ValueError, match=re.escape(f"{str(path)!r} holds int32 values")):
        agea_xr.open_cell_types(atlas / "merfish", "class")


# --- 2. iblatlas' cache without the genes --------------------------------------------
def test_iblatlas_cell_types_and_lipids_are_found_without_its_genes(tmp_path, monkeypatch):
    home, one = tmp_path / "home", tmp_path / "ONE"
    allen = one.joinpath(*layout.IBLATLAS_CACHE_SUBDIR).parent
    t.write_agea_grid(allen / "agea")  # label.npy and image.npy only: no gene table
    t.write_merfish(allen / "merfish", levels=("class",))
    t.write_lipids(allen / "lipids")
    one_config(home, one)
    monkeypatch.setenv("HOME", str(home))
    before = {kind: snapshot(allen / kind) for kind in ("agea", "merfish", "lipids")}
    ct = agea_xr.open_cell_types(level="class")
    assert ct.attrs["source"] == str(allen / "merfish")
    assert ct.attrs["label_source"] == str(allen / "agea" / layout.LABEL_FILE)
    np.testing.assert_array_equal(ct.density.values, stored(allen).astype(np.float32))
    assert agea_xr.open_lipids().attrs["source"] == str(allen / "lipids")
    assert {kind: snapshot(allen / kind) for kind in before} == before  # read only


# --- 4, 5. missing and damaged files -------------------------------------------------
def test_a_damaged_taxonomy_table_names_the_file_and_the_remedy(atlas):
    path = atlas / "merfish" / "classes.pqt"
    path.write_bytes(b"PAR1 not a table")
    with pytest.raises(ValueError, match="as a parquet table") as info:
        agea_xr.open_cell_types(atlas / "merfish", "class")
    assert str(info.value).startswith(f"Cannot read {str(path)!r} as a parquet table (")
    assert str(info.value).endswith(
        "the file is damaged or incomplete. Download it again: "
        "agea_xr.download(cell_types='class', check=True)."
    )


@pytest.mark.parametrize(
    ("level", "table", "column"),
    [("class", "classes.pqt", "class_color"), ("subclass", "subclasses.pqt", "class")],
)
def test_a_table_without_a_column_names_it_and_the_remedy(atlas, level, table, column):
    path = atlas / "merfish" / table
    pd.read_parquet(path).drop(columns=column).to_parquet(path)
    with pytest.raises(ValueError, match=re.escape(f"{str(path)!r} lacks the column(s) ")) as info:
        agea_xr.open_cell_types(atlas / "merfish", level)
    message = str(info.value)
    assert f"lacks the column(s) [{column!r}]" in message
    assert message.endswith(
        "the file is damaged or not the release's. Download it again: "
        f"agea_xr.download(cell_types={level!r}, check=True)."
    )


def test_a_missing_volume_names_the_file_the_level_and_the_remedy(atlas):
    (atlas / "merfish" / vl.volume_file("class")).unlink()
    folder = str(atlas / "merfish")
    with pytest.raises(FileNotFoundError) as info:
        agea_xr.open_cell_types(folder, "class")
    assert str(info.value) == (
        f"No 'merfish_class.npy' in {folder!r}: the cell-type volume of the 'class' level "
        "is missing (its type ids are there). Download it: "
        "agea_xr.download(cell_types='class'), or pass source= a folder that holds it."
    )
    (atlas / "lipids" / vl.LIPID_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="the lipid volume is missing") as info:
        agea_xr.open_lipids(atlas / "lipids")
    assert "agea_xr.download(lipids=True)" in str(info.value)


def test_missing_type_ids_say_what_they_are_and_the_remedy(atlas):
    (atlas / "merfish" / vl.labels_file("subclass")).unlink()
    folder = str(atlas / "merfish")
    with pytest.raises(FileNotFoundError) as info:
        agea_xr.open_cell_types(folder, "subclass")
    assert str(info.value) == (
        f"No 'merfish_subclass_labels.npy' in {folder!r}: it lists the type id of each "
        "channel of the volume, without which the cell types cannot be named. Download "
        "it: agea_xr.download(cell_types='subclass')."
    )


def test_repeated_type_ids_are_refused(atlas):
    path = atlas / "merfish" / vl.labels_file("class")
    ids = np.load(path)
    ids[[2, 5]] = ids[0]
    np.save(path, ids)
    with pytest.raises(ValueError, match=re.escape(f"lists the type id(s) [{ids[0]}] more")):
        agea_xr.open_cell_types(atlas / "merfish", "class")


# --- 6, 7. arguments ------------------------------------------------------------------
def test_min_reliability_is_a_number_from_0_to_1(root):
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match="min_reliability must be a number from 0 to 1"):
            agea_xr.open_lipids(root / "lipids", min_reliability=bad)
    for bad in ("0.6", True, [0.6]):
        with pytest.raises(TypeError, match="min_reliability must be a number from 0 to 1"):
            agea_xr.open_lipids(root / "lipids", min_reliability=bad)
    assert agea_xr.open_lipids(root / "lipids", min_reliability=0.95).sizes["lipid"] == 1
    # a float32 threshold (0.6 is 0.6000000238 in float32) keeps a reliability of 0.60
    same = agea_xr.open_lipids(root / "lipids", min_reliability=np.float32(0.6)).lipid.values
    assert (
        same.tolist()
        == agea_xr.open_lipids(root / "lipids", min_reliability=0.6).lipid.values.tolist()
    )


def test_a_min_reliability_no_lipid_reaches_names_the_highest(root):
    with pytest.raises(ValueError) as info:
        agea_xr.open_lipids(root / "lipids", min_reliability=0.99)
    table = str(root / "lipids" / vl.LIPID_TABLE)
    assert str(info.value) == (
        f"No lipid reaches min_reliability=0.99 in {table!r}: the highest is 0.95 "
        "(PC 30:0). Pass a lower value (iblatlas' default is 0.6), or None for every lipid."
    )


@pytest.mark.parametrize("variant", ["raw", "processed"])
@pytest.mark.parametrize("value", ["no", 0, 1, "False"])
def test_include_non_neuronal_must_be_a_bool(root, variant, value):
    with pytest.raises(TypeError, match="include_non_neuronal must be True or False or None"):
        agea_xr.open_cell_types(root / "merfish", "class", variant, include_non_neuronal=value)


# --- 8. the sibling label -------------------------------------------------------------
@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (np.zeros((4, 4, 4), dtype=np.int16), "has shape (4, 4, 4)"),
        (np.zeros(layout.GRID_SHAPE, dtype=np.float32), "has dtype float32"),
        (np.zeros(layout.GRID_SHAPE, dtype=object), "as a .npy array"),
        (np.full(layout.GRID_SHAPE, -3, dtype=np.int16), "holds values -3 .. -3"),
    ],
)
def test_a_damaged_sibling_label_is_refused_not_replaced(atlas, damage, says):
    path = atlas / "agea" / layout.LABEL_FILE
    np.save(path, damage, allow_pickle=damage.dtype == object)
    for opener in (
        lambda: agea_xr.open_cell_types(atlas / "merfish", "class"),
        lambda: agea_xr.open_lipids(atlas / "lipids"),
    ):
        with pytest.raises(ValueError, match=re.escape(says)) as info:
            opener()
        assert str(path) in str(info.value)
        assert "remove it to use the bundled sample's label" in str(info.value)


def test_only_a_missing_sibling_label_falls_back_to_the_sample(atlas):
    shutil.rmtree(atlas / "agea")
    ct = agea_xr.open_cell_types(atlas / "merfish", "class")
    assert ct.attrs["label_source"] == "the bundled sample's label.npy"


# --- 10, 11. the tree -----------------------------------------------------------------
def test_open_atlas_offline_holds_what_was_downloaded_without_the_genes(atlas):
    with pytest.raises(FileNotFoundError, match="None of .* was found in the local caches"):
        agea_xr.open_atlas()
    agea_xr.download(atlas / "agea", cell_types="class", lipids=True, progress=False)
    tree = agea_xr.open_atlas()
    assert sorted(tree.groups) == ["/", "/cell_types", "/cell_types/class", "/lipids"]
    assert tree.attrs["not_found"] == (
        "genes, cell_types/subclass, cell_types/supertype, cell_types/cluster"
    )
    np.testing.assert_array_equal(
        tree["cell_types/class"].ds.density.values, stored(atlas).astype(np.float32)
    )
    only = agea_xr.open_atlas(levels="class")
    assert "/cell_types/class" in only.groups and "subclass" not in only.attrs["not_found"]


def test_export_of_a_tree_says_what_to_do(root, tmp_path):
    tree = agea_xr.open_atlas(root)
    with pytest.raises(TypeError) as info:
        agea_xr.export(tree, tmp_path / "x.nc")
    assert str(info.value) == (
        "export() writes one Dataset (or DataArray), and this is a DataTree: export one of "
        'its nodes, e.g. export(tree["lipids"].to_dataset(), path), or write the whole '
        "tree with tree.to_netcdf(path) or tree.to_zarr(path)."
    )
    assert not (tmp_path / "x.nc").exists()
    path = agea_xr.export(tree["cell_types/class"].to_dataset(), tmp_path / "class.nc")
    with xr.open_dataset(path) as back:
        np.testing.assert_array_equal(back.density.values, stored(root).astype(np.float32))


# --- 12. download's arguments -----------------------------------------------------------
def test_download_refuses_an_empty_level_list_and_non_bool_flags(atlas, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(ValueError) as info:
        agea_xr.download(atlas / "agea", cell_types=[], cache_dir=cache, progress=False)
    assert str(info.value) == (
        "cell_types=[]: no level given; choose from 'class', 'subclass', 'supertype', "
        "'cluster' (coarse to fine), or leave cell_types out."
    )
    for flag, value in (("lipids", "yes"), ("genes", "no"), ("check", 1), ("offline", "0")):
        with pytest.raises(TypeError, match=f"{flag} must be True or False"):
            agea_xr.download(
                atlas / "agea",
                cell_types="class",
                cache_dir=cache,
                progress=False,
                **{flag: value},
            )
    assert not cache.exists()  # refused before any work
