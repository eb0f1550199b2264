"""MERFISH cell types and lipids: values against np.load and iblatlas' own loaders."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import agea_xr
import agea_xr.testing as t
from agea_xr import layout
from agea_xr import volumes_layout as vl
from agea_xr.volumes import open_cell_types, open_lipids
from agea_xr.volumes._npy import ItemFile, parse_header, read_small_npy


@pytest.fixture(scope="module")
def ibl_root(tmp_path_factory):
    """iblatlas' cache layout: agea/, merfish/ and lipids/ side by side."""
    root = tmp_path_factory.mktemp("Allen")
    t.write_agea_grid(root / "agea")
    t.write_merfish(root / "merfish")
    t.write_lipids(root / "lipids")
    return root


def bits(a):
    a = np.asarray(a)
    return a.view(np.uint16 if a.itemsize == 2 else np.uint32)


def same_values(got, stored) -> None:
    """The stored float16 values, exactly, as float32 (NaN where NaN)."""
    got = np.asarray(got)
    assert got.dtype == np.float32 and stored.dtype == np.float16
    np.testing.assert_array_equal(got, stored.astype(np.float32), strict=True)


@pytest.mark.parametrize("level", vl.LEVELS)
def test_raw_cell_types_equal_np_load(ibl_root, level):
    expected = np.load(ibl_root / "merfish" / vl.volume_file(level))
    ct = open_cell_types(ibl_root / "merfish", level)
    assert ct.density.dtype == np.float32
    same_values(ct.density.values, expected)
    # a fancy selection reads the same values, in the asked order
    same_values(ct.density.isel(cell_type=[3, 0, 4, 3]).values, expected[[3, 0, 4, 3]])
    same_values(ct.density.isel(cell_type=2).values, expected[2])
    chunked = open_cell_types(ibl_root / "merfish", level, chunks={})
    assert chunked.density.chunks is not None and chunked.density.dtype == np.float32
    same_values(chunked.density.values, expected)


def test_taxonomy_coordinates_follow_the_tables(ibl_root):
    folder = ibl_root / "merfish"
    ct = open_cell_types(folder, "supertype")
    tables = {lev: pd.read_parquet(folder / vl.TAXONOMY_TABLE[lev]) for lev in vl.LEVELS}
    ids = np.load(folder / vl.labels_file("supertype"))
    sup = tables["supertype"].loc[ids]
    np.testing.assert_array_equal(ct.type_id.values, ids)
    np.testing.assert_array_equal(ct.color.values, sup["supertype_color"].values)
    np.testing.assert_array_equal(ct.subclass.values, sup["subclass"].values)
    sub = tables["subclass"].drop_duplicates("subclass").set_index("subclass")["class"]
    np.testing.assert_array_equal(ct["class"].values, sup["subclass"].map(sub).values)
    assert ct.sel(cell_type=ct.cell_type.values[2]).type_id.item() == ids[2]
    glut = ct.sel({"class": "01 IT-ET Glut"})
    np.testing.assert_array_equal(glut.type_id.values, ids[ct["class"].values == "01 IT-ET Glut"])
    assert glut.sizes["cell_type"] > 1
    same_values(
        glut.density.values,
        np.load(folder / vl.volume_file("supertype"))[ct["class"].values == "01 IT-ET Glut"],
    )
    cls = open_cell_types(folder, "class")
    assert cls.cell_type.values[cls.non_neuronal.values].tolist() == list(vl.NON_NEURONAL_CLASSES)
    assert "Yao" in ct.attrs["citation"] and "Zhang" in ct.attrs["citation"]
    np.testing.assert_array_equal(ct.label.values, t.synthetic_label())
    assert ct.indexes["ap"].equals(ct.indexes["ap"]) and ct.ap.values[0] == layout.ap_coords()[0]


@pytest.fixture
def iblatlas_cache(ibl_root, monkeypatch):
    from iblatlas import atlas

    monkeypatch.setattr(atlas.AllenAtlas, "_get_cache_dir", staticmethod(lambda: ibl_root))
    return ibl_root


@pytest.mark.parametrize("level", ["class", "subclass", "cluster"])
@pytest.mark.parametrize("include", [False, True])
def test_processed_equals_iblatlas_load_volume(iblatlas_cache, level, include):
    from iblatlas.genomics import merfish

    folder = iblatlas_cache / "merfish"
    expected, labels, _ = merfish.load_volume(
        level, "processed", include_non_neuronal=include, folder_cache=folder
    )
    ct = open_cell_types(folder, level, "processed", include_non_neuronal=include)
    np.testing.assert_array_equal(ct.type_id.values, labels)
    got = ct.density.values
    assert got.dtype == expected.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-9)
    raw, raw_labels, _ = merfish.load_volume(level, "", folder_cache=folder)
    same_values(open_cell_types(folder, level).density.values, raw)
    flags = merfish.is_non_neuronal(level, raw_labels, folder_cache=folder)
    np.testing.assert_array_equal(open_cell_types(folder, level).non_neuronal.values, flags)


@pytest.mark.parametrize("min_reliability", [None, 0.6])
def test_lipids_equal_iblatlas_load_volume(iblatlas_cache, min_reliability):
    from iblatlas.genomics import lipids

    folder = iblatlas_cache / "lipids"
    expected, table, _ = lipids.load_volume(folder, min_reliability=min_reliability)
    lp = open_lipids(folder, min_reliability=min_reliability)
    assert lp.intensity.dtype == np.float32
    np.testing.assert_array_equal(bits(lp.intensity.values), bits(expected))
    np.testing.assert_array_equal(lp.lipid.values, table["lipid"].values)
    for column in vl.LIPID_COLUMNS[1:]:
        np.testing.assert_array_equal(lp[column].values, table[column].values)
    assert lp.attrs["license"].startswith("CC-BY-4.0")
    assert "10.5281/zenodo.15379565" in lp.attrs["citation"]
    if min_reliability is not None:
        assert lp.sizes["lipid"] == 7


def test_object_arrays_are_refused_never_unpickled(tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.array([1, "a"], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="never unpickles"):
        read_small_npy(buf.getvalue(), "x_labels.npy")
    folder = t.write_merfish(tmp_path / "merfish", levels=("class",))
    np.save(folder / vl.labels_file("class"), np.arange(1, 9).astype(object), allow_pickle=True)
    with pytest.raises(ValueError, match="object array"):
        open_cell_types(folder, "class")
    vol = io.BytesIO()
    np.save(vol, np.empty((1, *layout.GRID_SHAPE), dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="never unpickles"):
        parse_header(vol.getvalue()[:4096], "v.npy")


def test_header_parsing_matches_numpy_and_bad_files_are_named(tmp_path):
    folder = t.write_merfish(tmp_path / "merfish", levels=("class",))
    path = folder / vl.volume_file("class")
    item = ItemFile(path)
    mm = np.load(path, mmap_mode="r")
    assert (item.shape, item.dtype, item.offset) == (mm.shape, mm.dtype, mm.offset)
    np.testing.assert_array_equal(bits(item.read(2, 4)), bits(mm[2:4]))
    path.write_bytes(path.read_bytes()[: item.offset + 1000])
    with pytest.raises(ValueError, match="incomplete"):
        ItemFile(path)
    with pytest.raises(ValueError, match="taxonomy level"):
        open_cell_types(folder, "species")
    with pytest.raises(ValueError, match="processed"):
        open_cell_types(folder, "class", include_non_neuronal=True)


def test_open_atlas_holds_what_the_folder_has(tmp_path):
    import agea_xr

    t.write_synthetic(tmp_path / "agea", 4)
    t.write_merfish(tmp_path / "merfish", levels=("class", "cluster"))
    tree = agea_xr.open_atlas(tmp_path)
    assert sorted(tree.groups) == [
        "/",
        "/cell_types",
        "/cell_types/class",
        "/cell_types/cluster",
        "/genes",
    ]
    genes = agea_xr.open_dataset(tmp_path / "agea")
    np.testing.assert_array_equal(tree["/genes"].ds.expression.values, genes.expression.values)
    cluster = np.load(tmp_path / "merfish" / vl.volume_file("cluster"))
    same_values(tree["/cell_types/cluster"].ds.density.values, cluster)
    only = agea_xr.open_atlas(tmp_path, levels=["class"])
    assert "/cell_types/cluster" not in only.groups
    assert tree.attrs["not_found"] == "cell_types/subclass, cell_types/supertype, lipids"
    with pytest.raises(FileNotFoundError, match="None of .* was found in"):
        agea_xr.open_atlas(tmp_path / "merfish")


def _with_task_count(function, *args):
    """``function(*args)`` and the number of dask tasks it ran (local schedulers)."""
    from dask.callbacks import Callback

    done = []

    class Count(Callback):
        def _posttask(self, *_):
            done.append(1)

    with Count():
        result = function(*args)
    return result, len(done)


@pytest.mark.parametrize("opener", ["cell_types", "lipids"])
def test_chunks_chunk_the_maps_only_and_tables_stay_fast(root, opener):
    # the item coordinates and the label stay numpy: chunked, a ranked table of
    # similar() took the items' coordinates through a dask shuffle (11,000 tasks at
    # the cluster level, 19 s on a 2-worker cluster for a 2 s analysis)
    def opened(chunks):
        if opener == "cell_types":
            return agea_xr.open_cell_types(root / "merfish", "subclass", chunks=chunks)
        return agea_xr.open_lipids(root / "lipids", chunks=chunks)

    lazy, chunked = opened(None), opened({vl.CELL_TYPE if opener == "cell_types" else vl.LIPID: 3})
    item = vl.CELL_TYPE if opener == "cell_types" else vl.LIPID
    stack = next(iter(chunked.data_vars.values())).name
    assert chunked[stack].chunks[0][:2] == (3, 3)
    others = [n for n in chunked.variables if n != stack]
    assert [n for n in others if chunked[n].chunks is not None] == []
    xr.testing.assert_identical(chunked.compute(), lazy.compute())
    query = lazy[stack].isel({item: 2}).values.astype(np.float64)

    table, tasks = _with_task_count(agea_xr.similar, query, chunked)
    n_chunks = len(chunked[stack].chunks[0])
    assert tasks <= n_chunks + 6  # the pass and its join, no shuffle
    pd.testing.assert_frame_equal(table, agea_xr.similar(query, lazy))
    assert table[item].iloc[0] == lazy[item].values[2]
    with pytest.raises(ValueError, match=r"chunks names \['experiment'\].*\{'"):
        opened({"experiment": 5})
    # any xarray chunks: "auto" (object coordinates cannot be auto-sized: not chunked),
    # an int, a grid dimension
    for chunks, ml in (("auto", None), (30, 30), ({"ml": 10}, 10)):
        other = opened(chunks)
        assert other[stack].chunks is not None
        assert ml is None or other[stack].chunks[1][0] == ml
        assert [n for n in other.variables if n != stack and other[n].chunks is not None] == []
        xr.testing.assert_identical(other.compute(), lazy.compute())
    if opener == "cell_types":
        processed = agea_xr.open_cell_types(
            root / "merfish", "subclass", "processed", chunks="auto"
        )
        assert processed.type_id.chunks is None and processed.label.chunks is None


def test_coordinates_chunked_by_hand_are_loaded_once_for_tables(root):
    lazy = agea_xr.open_cell_types(root / "merfish", "subclass")
    by_hand = lazy.chunk({vl.CELL_TYPE: 3})  # xarray's chunk: the coordinates too
    assert by_hand.type_id.chunks is not None
    query = lazy.density.isel(cell_type=4).values.astype(np.float64)

    table, tasks = _with_task_count(agea_xr.similar, query, by_hand)
    n_chunks = len(by_hand.density.chunks[0])
    assert tasks <= 2 * n_chunks + 6  # coordinates loaded once, no shuffle
    pd.testing.assert_frame_equal(table, agea_xr.similar(query, lazy))
