"""The analyses on cell types and lipids: values against numpy and against the gene path.

Each analysis that makes sense on any item axis runs on a cell-type or lipid
Dataset and gives what plain numpy gives on the same numbers, and what the
gene analysis gives on the same numbers presented as an AGEA dataset (an
``expression`` over ``experiment``); the gene-specific ones refuse, saying why.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import agea_xr
import agea_xr.testing as t
from agea_xr import layout

#: The planted cell type of the gene finder test (position in the subclass level).
PLANTED = 5


def stack(ds: xr.Dataset) -> np.ndarray:
    """The item variable as float64 ``(item, ml, dv, ap)`` numpy values."""
    (name,) = [v for v in ds.data_vars if v != "label"]
    return ds[name].values.astype(np.float64)


def agea_like(values: np.ndarray, names) -> xr.Dataset:
    """The same numbers as an AGEA dataset: ``expression`` (experiment, ml, dv, ap)."""
    ids = np.arange(1000, 1000 + len(values))
    return xr.Dataset(
        {
            "expression": (layout.DIMS, values.astype(np.float32)),
            "label": (layout.GRID_DIMS, t.synthetic_label()),
        },
        coords={
            **layout.coords(),
            layout.EXPERIMENT: ids,
            "gene": (layout.EXPERIMENT, np.asarray(names, dtype=object)),
        },
    )


def brain() -> np.ndarray:
    return t.synthetic_label() != 0


# --- clusters ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["cell_types", "lipids"])
def test_clusters_on_items_equal_clusters_of_the_same_numbers_as_genes(ct, lp, kind):
    ds, item = (ct, "cell_type") if kind == "cell_types" else (lp, "lipid")
    got = ds.agea.clusters([3, 6], mask="CTX", random_state=0)
    same = agea_like(stack(ds), ds[item].values)
    expected = agea_xr.clusters(same, [3, 6], mask="CTX", random_state=0)
    np.testing.assert_array_equal(got.values, expected.values)
    assert got.attrs["linkage"] == expected.attrs["linkage"]
    count = f"n_{item}s"
    assert got.attrs[count] == expected.attrs["n_experiments"] == ds.sizes[item]
    assert "n_experiments" not in got.attrs
    assert got.attrs["variable"] == ("density" if kind == "cell_types" else "intensity")
    assert got.attrs["long_name"].startswith(got.attrs["variable"] + " cluster")


# --- gene finder -------------------------------------------------------------------------
def cohens_d(values: np.ndarray, target: np.ndarray, contrast: np.ndarray) -> np.ndarray:
    out = []
    for volume in values:
        a, b = volume[target], volume[contrast]
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        ss = ((a - a.mean()) ** 2).sum() + ((b - b.mean()) ** 2).sum()
        out.append((a.mean() - b.mean()) / np.sqrt(ss / (a.size + b.size - 2)))
    return np.array(out)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """The subclass level with one type made dense in the caudoputamen."""
    folder = tmp_path_factory.mktemp("planted") / "merfish"
    t.write_merfish(folder, levels=("subclass",))
    values = np.load(folder / "merfish_subclass.npy")
    ct = agea_xr.open_cell_types(folder, "subclass")
    cp = ct.agea.region_mask("CP").values
    values[PLANTED][cp] += np.float16(4.0)
    np.save(folder / "merfish_subclass.npy", values)
    return agea_xr.open_cell_types(folder, "subclass")


def test_gene_finder_ranks_a_planted_cell_type_first_with_cohens_d(planted):
    table = planted.agea.gene_finder("CP")
    target = planted.agea.region_mask("CP").values
    expected = cohens_d(stack(planted), target, brain() & ~target)
    assert table["cell_type"].iloc[0] == planted.cell_type.values[PLANTED]
    order = planted.indexes["cell_type"].get_indexer(table["cell_type"])
    np.testing.assert_allclose(table["effect_size"].values, expected[order], rtol=1e-9)
    assert list(table.columns[:3]) == ["rank", "cell_type", "mean_target"]
    assert "gene" not in table and "experiment" not in table
    np.testing.assert_array_equal(table["class"].values, planted["class"].values[order])
    assert table.attrs["variable"] == "density" and table.attrs["target"] == "CP"


def test_gene_finder_p_values_on_items_equal_those_of_the_same_numbers_as_genes(lp):
    got = agea_xr.gene_finder(lp, "CTX", n_null=50, random_state=3)
    same = agea_like(stack(lp), lp.lipid.values)
    expected = agea_xr.gene_finder(same, "CTX", n_null=50, random_state=3)
    assert got["lipid"].tolist() == expected["gene"].tolist()
    for column in ("effect_size", "fold_change", "p_spatial", "q"):
        np.testing.assert_allclose(got[column], expected[column], rtol=1e-6)
    np.testing.assert_array_equal(got["n_target"], expected["n_target"])


# --- seed correlation --------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["cell_types", "lipids"])
def test_seed_correlation_on_items_equals_np_corrcoef_per_voxel(ct, lp, kind):
    ds, item = (ct, "cell_type") if kind == "cell_types" else (lp, "lipid")
    seed = [-1.5e-3, -2.0e-3, -3.0e-3]
    r = ds.agea.seed_correlation(seed, min_experiments=3).compute()
    values = stack(ds).reshape(ds.sizes[item], -1)
    point = {"ml": seed[0], "ap": seed[1], "dv": seed[2]}  # xyz = ML, AP, DV
    where = [int(np.argmin(np.abs(ds[d].values - point[d]))) for d in layout.GRID_DIMS]
    index = np.ravel_multi_index(where, layout.GRID_SHAPE)
    y = values[:, index]
    count = r[f"n_{item}s"].values.reshape(-1)
    flat = r.values.reshape(-1)
    rng = np.random.default_rng(0)
    checked = 0
    for v in rng.choice(np.flatnonzero(brain().reshape(-1)), 400, replace=False):
        ok = np.isfinite(values[:, v]) & np.isfinite(y)
        assert count[v] == ok.sum()
        if ok.sum() >= 3 and np.ptp(values[ok, v]) > 0:
            np.testing.assert_allclose(flat[v], np.corrcoef(values[ok, v], y[ok])[0, 1], atol=1e-9)
            checked += 1
    assert checked > 100
    assert r.attrs["min_" + item + "s"] == 3 and r.attrs["variable"] in ("density", "intensity")
    assert r[f"n_{item}s"].attrs["long_name"].startswith("number of")


# --- similar: p and q as similar_genes gives them -----------------------------------------
def test_similar_p_values_equal_those_of_similar_genes_on_the_same_numbers(ct):
    query = agea_xr.open_sample().agea.gene("Pdyn")
    got = agea_xr.similar(query, ct, mask="CTX", n_null=60, random_state=7)
    same = agea_like(stack(ct), ct.cell_type.values)
    expected = agea_xr.similar_genes(same, query, "CTX", n_null=60, random_state=7)
    assert got["cell_type"].tolist() == expected["gene"].tolist()
    assert expected["p_spatial"].nunique() > 3  # the p-values differ between rows
    for column in ("r", "p_spatial", "q"):
        np.testing.assert_allclose(got[column], expected[column], rtol=1e-6)
    np.testing.assert_array_equal(got["n_voxels"], expected["n_voxels"])
    assert got.attrs["variable"] == "density"


def test_similar_genes_takes_a_cell_type_map_as_query(ct):
    genes = agea_xr.open_sample()
    query = ct.density.isel(cell_type=3)
    table = genes.agea.similar_genes(query)
    q = query.values.astype(np.float64)
    for gene, r in zip(table["gene"], table["r"], strict=True):
        x = genes.expression.sel(gene=gene).values.astype(np.float64).squeeze()
        ok = brain() & np.isfinite(q) & np.isfinite(x)
        np.testing.assert_allclose(r, np.corrcoef(q[ok], x[ok])[0, 1], rtol=1e-9)


# --- voxel matrix ------------------------------------------------------------------------
def test_voxel_matrix_on_items_equals_numpy(lp):
    m = lp.agea.voxel_matrix("CTX")
    mask = lp.agea.region_mask("CTX").values.reshape(-1)
    expected = stack(lp).reshape(lp.sizes["lipid"], -1)[:, mask].T
    assert m.dims == ("voxel", "lipid") and m.name == "intensity"
    np.testing.assert_array_equal(m.values, expected)
    np.testing.assert_array_equal(m.reliability.values, lp.reliability.values)
    assert m.attrs["variable"] == "intensity"


# --- variable= picks the item variable of a dataset that holds genes too --------------------
def test_variable_chooses_items_in_a_dataset_with_expression(ct):
    genes = agea_like(stack(ct)[:4] * 2.0, ["A", "B", "C", "D"])
    both = genes.assign(density=ct.density)
    on_items = agea_xr.gene_finder(both, "CP", variable="density")
    alone = agea_xr.gene_finder(ct, "CP")
    np.testing.assert_array_equal(on_items["cell_type"], alone["cell_type"])
    np.testing.assert_allclose(on_items["effect_size"], alone["effect_size"])
    on_genes = agea_xr.gene_finder(both, "CP")
    assert set(on_genes["gene"]) == {"A", "B", "C", "D"}
    with pytest.raises(ValueError, match="variable='nope'"):
        both.agea.voxel_matrix(variable="nope")


# --- the gene-specific ones say so -------------------------------------------------------
def test_gene_specific_analyses_refuse_items_and_say_what_to_use(ct, lp):
    query = ct.density.isel(cell_type=0)
    with pytest.raises(ValueError, match=r"similar_genes\(\) is gene-specific.*agea_xr\.similar"):
        ct.agea.similar_genes(query)
    with pytest.raises(ValueError, match=r"similar_genes\(\) is gene-specific.*'intensity'"):
        agea_xr.similar_genes(lp, "Pdyn")
    with pytest.raises(ValueError, match=r"decode\(\) is gene-specific.*read_map.*similar"):
        lp.agea.decode(query.astype("float32"))
    with pytest.raises(ValueError, match=r"gene_finder\(per_gene=True\).*genes only.*groupby"):
        ct.agea.gene_finder("CP", per_gene=True)
    with pytest.raises(ValueError, match=r"clusters\(genes='x'\).*ds\.sel\(lipid="):
        lp.agea.clusters(3, genes="x")
    with pytest.raises(ValueError, match=r"region_expression\(combine_genes=True\)"):
        lp.agea.region_expression(combine_genes=True)


# --- the map tools take any map: region_map, compare_maps ---------------------------------
def test_region_map_and_compare_maps_take_item_maps(ct):
    means = ct.agea.region_expression("Cosmos").compute()
    painted = ct.agea.region_map(means)
    assert painted.dims == ("cell_type", *layout.GRID_DIMS)
    ids = painted.agea.regions("Cosmos").values
    for region in (315, 512):  # Isocortex, Cerebellum
        at = painted.values[:, ids == region]
        np.testing.assert_array_equal(
            at, np.repeat(means.sel(region=region).values[:, None], at.shape[1], 1)
        )
    a, b = ct.density.isel(cell_type=1), ct.density.isel(cell_type=2)
    result = agea_xr.compare_maps(a, b, n_null=20, random_state=0)
    x, y = a.values.astype(np.float64), b.values.astype(np.float64)
    ok = brain() & np.isfinite(x) & np.isfinite(y)
    np.testing.assert_allclose(float(result.r), np.corrcoef(x[ok], y[ok])[0, 1], rtol=1e-9)
