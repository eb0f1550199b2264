"""Region statistics and cross-modal similarity on cell types and lipids, against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import agea_xr
import agea_xr.testing as t
from agea_xr.regions import brain_regions


def region_reference(values, label, mapping, region):
    br = brain_regions()
    ids = br.id[br.mappings[mapping][label]]
    inside = ids == region
    picked = values[:, inside].astype(np.float64)
    return np.nanmean(picked, axis=1), np.isfinite(picked).sum(axis=1)


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")
@pytest.mark.parametrize("kind", ["cell_types", "lipids"])
def test_region_expression_on_items_equals_numpy(root, kind):
    if kind == "cell_types":
        ds = agea_xr.open_cell_types(root / "merfish", "subclass")
        item, values = "cell_type", np.load(root / "merfish" / "merfish_subclass.npy")
    else:
        ds = agea_xr.open_lipids(root / "lipids")
        item, values = "lipid", np.load(root / "lipids" / "lipid_volumes.npy")
    result = ds.agea.region_expression("Cosmos", ["mean", "count"]).compute()
    assert result["mean"].dims == (item, "region")
    np.testing.assert_array_equal(result[item].values, ds[item].values)
    if kind == "cell_types":
        np.testing.assert_array_equal(result["class"].values, ds["class"].values)
    label = t.synthetic_label()
    for region in result.region.values:
        mean, count = region_reference(values, label, "Cosmos", region)
        row = result.sel(region=region)
        np.testing.assert_allclose(row["mean"].values, mean, rtol=1e-6)
        np.testing.assert_array_equal(row["count"].values, count)
    assert "density" in result["mean"].attrs["long_name"] or kind == "lipids"


def test_processed_cell_types_region_means_sum_to_one(root):
    ct = agea_xr.open_cell_types(root / "merfish", "class", "processed")
    means = agea_xr.region_expression(ct, "Cosmos").compute()
    # proportions average to proportions: each region's means over types sum to 1
    inside = means.drop_sel(region=[997], errors="ignore")
    np.testing.assert_allclose(inside.sum("cell_type").values, 1.0, rtol=1e-5)


def reference_r(query, stack, method):
    label = t.synthetic_label()
    out = []
    for volume in stack.astype(np.float64):
        ok = (label != 0) & np.isfinite(query) & np.isfinite(volume)
        if method == "pearson":
            out.append(np.corrcoef(query[ok], volume[ok])[0, 1])
        else:
            out.append(stats.spearmanr(query[ok], volume[ok]).statistic)
    return np.array(out)


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_similar_gene_map_against_cell_types_and_lipids_equals_numpy(root, method):
    genes = agea_xr.open_sample()
    query = genes.agea.gene("Pdyn")
    q = query.values.astype(np.float64)
    ct = agea_xr.open_cell_types(root / "merfish", "subclass")
    table = agea_xr.similar(query, ct, method=method)
    expected = reference_r(q, np.load(root / "merfish" / "merfish_subclass.npy"), method)
    order = ct.indexes["cell_type"].get_indexer(table["cell_type"])
    np.testing.assert_allclose(table["r"].values, expected[order], rtol=1e-9, atol=1e-12)
    assert (np.diff(table["r"].values) <= 0).all()
    np.testing.assert_array_equal(table["color"].values, ct.color.values[order])
    lp = agea_xr.open_lipids(root / "lipids", min_reliability=0.6)
    lt = agea_xr.similar(query, lp, method=method, top=3)
    kept = np.flatnonzero(np.array(t.SYNTHETIC_RELIABILITY) >= 0.6)
    expected = reference_r(q, np.load(root / "lipids" / "lipid_volumes.npy")[kept], method)
    assert len(lt) == 3
    np.testing.assert_allclose(lt["r"].values, np.sort(expected)[::-1][:3], rtol=1e-9)
    assert set(lt.columns) >= {"rank", "lipid", "r", "n_voxels", "reliability"}


def test_a_cell_type_finds_itself_first_and_genes_match_a_cell_type(root):
    ct = agea_xr.open_cell_types(root / "merfish", "class")
    table = agea_xr.similar(ct.density.isel(cell_type=4), ct)
    assert table["cell_type"].iloc[0] == ct.cell_type.values[4]
    assert table["r"].iloc[0] == pytest.approx(1.0)
    genes = agea_xr.open_sample()
    ranked = genes.agea.similar_genes(ct.density.isel(cell_type=4).astype("float32"))
    expected = reference_r(
        ct.density.isel(cell_type=4).values.astype(np.float64),
        genes.expression.values,
        "pearson",
    )
    got = ranked.set_index("gene").loc[list(genes.gene.values), "r"].values
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    with pytest.raises(TypeError, match="map"):
        agea_xr.similar("Pdyn", ct)
    with pytest.raises(ValueError, match="combine_genes"):
        agea_xr.region_expression(ct, combine_genes=True)


def test_a_selection_of_experiments_by_array_still_runs_the_analyses(synthetic_dir):
    ds = agea_xr.open_dataset(synthetic_dir, chunks=None)
    picked = ds.isel(experiment=np.array([3, 1]))
    both = agea_xr.region_expression(picked, "Cosmos").compute()
    alone = agea_xr.region_expression(ds, "Cosmos").compute()
    np.testing.assert_array_equal(both.values, alone.isel(experiment=[3, 1]).values)
