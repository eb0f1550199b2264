"""Cell types and lipids read back from Zarr: every item analysis as on the original.

Zarr v3 reads text coordinates (cell types, their classes and colours, lipid
names) as numpy's ``StringDType``, which ``.astype(str)`` refuses to cast; each
analysis on a store written by ``export`` (read with ``open_export`` or plain
``xr.open_zarr``) or by ``DataTree.to_zarr`` gives what it gives on the dataset
that was written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import agea_xr

SEED = [-1.5e-3, -2.0e-3, -3.0e-3]

#: Every analysis that runs on items, with the values it is compared on.
ANALYSES = {
    "region_expression": lambda ds: ds.agea.region_expression(mapping="Beryl").compute(),
    "similar": lambda ds: agea_xr.similar(
        agea_xr.open_sample().agea.gene("Pdyn"), ds, n_null=30, random_state=0
    ),
    "gene_finder": lambda ds: ds.agea.gene_finder("CP", n_null=30, random_state=0),
    "seed_correlation": lambda ds: ds.agea.seed_correlation(SEED, min_experiments=3).compute(),
    "clusters": lambda ds: ds.agea.clusters([3, 5], mask="CTX", random_state=0),
    "voxel_matrix": lambda ds: ds.agea.voxel_matrix("CTX"),
}


@pytest.fixture(scope="module")
def stores(ct, lp, tmp_path_factory):
    folder = tmp_path_factory.mktemp("zarr")
    return {
        "cell_types": (ct, ct.agea.export(folder / "ct.zarr")),
        "lipids": (lp, lp.agea.export(folder / "lp.zarr")),
    }


def same_attrs(got: dict, expected: dict) -> bool:
    """Equal attributes; numbers to 1e-12 (other chunks sum in another order)."""
    numbers = {k for k, v in expected.items() if isinstance(v, (float, list, np.ndarray))}
    return got.keys() == expected.keys() and all(
        got[k] == (pytest.approx(expected[k], rel=1e-12) if k in numbers else expected[k])
        for k in expected
    )


def assert_same(got, expected) -> None:
    """Equal values (floats to 1e-9), coordinates with their dtypes, the same attributes.

    The export gives the coordinates a ``long_name`` (CF): their attributes differ.
    Zarr lists them in name order: a table's coordinate columns follow that order.
    """
    if isinstance(expected, pd.DataFrame):
        assert sorted(got.columns) == sorted(expected.columns)
        pd.testing.assert_frame_equal(got[expected.columns], expected)
        assert same_attrs(got.attrs, expected.attrs)
        return
    xr.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert same_attrs(got.attrs, expected.attrs)
    assert set(got.coords) == set(expected.coords)
    for name, coord in expected.coords.items():
        assert got[name].dtype == coord.dtype, name


@pytest.mark.parametrize("analysis", list(ANALYSES))
@pytest.mark.parametrize("reader", ["open_export", "open_zarr"])
@pytest.mark.parametrize("kind", ["cell_types", "lipids"])
def test_item_analyses_on_zarr_equal_those_on_the_original(stores, kind, reader, analysis):
    original, path = stores[kind]
    back = agea_xr.open_export(path) if reader == "open_export" else xr.open_zarr(path)
    item = "cell_type" if kind == "cell_types" else "lipid"
    assert back[item].dtype != object or reader == "open_export"
    run = ANALYSES[analysis]
    assert_same(run(back), run(original))


def test_open_export_gives_the_item_names_and_indexes_open_cell_types_gives(stores):
    ct, path = stores["cell_types"]
    back = agea_xr.open_export(path)
    for name in ("cell_type", "class", "color"):
        assert back[name].dtype == object, name
        assert back[name].values.tolist() == ct[name].values.tolist()
    first = ct["class"].values[0]
    assert back.sel({"class": first}).cell_type.values.tolist() == (
        ct.sel({"class": first}).cell_type.values.tolist()
    )
    lp, path = stores["lipids"]
    assert agea_xr.open_export(path).lipid.values.tolist() == lp.lipid.values.tolist()


@pytest.mark.parametrize("analysis", ["region_expression", "similar", "voxel_matrix"])
def test_item_analyses_on_a_data_tree_read_from_zarr(root, tmp_path, analysis):
    tree = agea_xr.open_atlas(root)
    tree.to_zarr(tmp_path / "atlas.zarr", consolidated=False)
    back = xr.open_datatree(tmp_path / "atlas.zarr", engine="zarr", consolidated=False)
    run = ANALYSES[analysis]
    for group in ("cell_types/subclass", "lipids"):
        assert_same(run(back[group].to_dataset()), run(tree[group].to_dataset()))


def test_similar_with_a_zarr_map_and_zarr_items(stores):
    ct, path = stores["cell_types"]
    back = xr.open_zarr(path)
    query = back.density.isel(cell_type=3)
    table = agea_xr.similar(query, back)
    assert table["cell_type"].iloc[0] == ct.cell_type.values[3]
    assert table["r"].iloc[0] == pytest.approx(1.0)
    assert_same(table, agea_xr.similar(ct.density.isel(cell_type=3), ct))


@pytest.fixture(scope="module")
def genes_zarr(tmp_path_factory):
    path = tmp_path_factory.mktemp("genes") / "sample.zarr"
    return agea_xr.open_sample(), agea_xr.export(agea_xr.open_sample(), path)


@pytest.mark.parametrize("reader", ["open_export", "open_zarr"])
def test_gene_tools_and_analyses_on_a_zarr_export(genes_zarr, reader):
    sample, path = genes_zarr
    back = agea_xr.open_export(path) if reader == "open_export" else xr.open_zarr(path)
    assert back.agea.genes().to_dict("records") == sample.agea.genes().to_dict("records")
    assert back.agea.search_genes("pd") == ["Pdyn"]
    np.testing.assert_array_equal(back.agea.gene("Pdyn").values, sample.agea.gene("Pdyn").values)
    unknown = "Gene 'pdyn' is not in this dataset. Closest matches: Pdyn"
    with pytest.raises(KeyError, match=unknown):
        back.agea.gene("pdyn")
    pdyn = sample.agea.gene("Pdyn")
    pd.testing.assert_frame_equal(
        back.agea.similar_genes(pdyn), sample.agea.similar_genes(pdyn), check_dtype=False
    )
    got = back.agea.region_expression(mapping="Beryl").compute()
    expected = sample.agea.region_expression(mapping="Beryl").compute()
    np.testing.assert_allclose(got.values, expected.values, equal_nan=True)
    assert got.gene.values.tolist() == expected.gene.values.tolist() == ["Pdyn", "Nrp1"]
