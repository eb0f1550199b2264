"""similar_genes against plain numpy/scipy references; planted neighbours are found."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import xarray as xr

import agea_xr
from agea_xr.analysis import seed_correlation, similar_genes
from agea_xr.analysis._pairwise import pairwise_sums, pearson, prepare_queries
from agea_xr.kernels import decode_table, have_numba
from agea_xr.regions import region_mask
from agea_xr.testing import planted_families, write_planted

from .reference import sample_values


def _reference(values, query, selected, method="pearson", min_voxels=10):
    """r and n of every experiment with the query over the voxels measured in both."""
    rs, ns = [], []
    for row in values:
        both = selected & np.isfinite(row) & np.isfinite(query)
        n = int(both.sum())
        ns.append(n)
        if n < min_voxels:
            rs.append(np.nan)
        elif method == "pearson":
            rs.append(np.corrcoef(row[both], query[both])[0, 1])
        else:
            rs.append(scipy.stats.spearmanr(row[both], query[both]).statistic)
    return np.array(rs), np.array(ns)


def _by_experiment(table, ds):
    return table.set_index("experiment").loc[ds["experiment"].values]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return agea_xr.open_dataset(write_planted(tmp_path_factory.mktemp("planted"), 36))


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_real_sample_matches_numpy(sample, method):
    values = sample_values()
    brain = sample["label"].values.reshape(-1) != 0
    table = similar_genes(sample, "Pdyn", method=method)
    expected, n = _reference(values, values[0], brain, method)
    got = _by_experiment(table, sample)
    np.testing.assert_allclose(got["r"].to_numpy(), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(got["n_voxels"].to_numpy(), n)
    assert table.loc[0, "gene"] == "Pdyn" and table.loc[0, "r"] == pytest.approx(1.0, abs=1e-12)
    assert table.attrs["query"] == "Pdyn (experiment 71717084)"


def test_synthetic_chunks_mask_and_map_query(ds5, values):
    # experiment id as query, a region mask, 3 chunks of experiments
    own = int(ds5["experiment"].values[4])
    table = similar_genes(ds5, own, mask="HPF", min_voxels=3)
    hpf = region_mask(ds5, "HPF").values.reshape(-1)
    expected, n = _reference(values, values[4], hpf, min_voxels=3)
    got = _by_experiment(table, ds5)
    np.testing.assert_allclose(got["r"].to_numpy(), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(got["n_voxels"].to_numpy(), n)
    assert table.loc[0, "experiment"] == own and table.loc[0, "r"] == pytest.approx(1.0)
    assert table.attrs["mask_voxels"] == hpf.sum()


def test_map_query_on_decoded_floats(ds, values):
    # a correlation map as query; the dataset after arithmetic (the float path, not bits)
    r_map = seed_correlation(ds, (-1.5e-3, -2.0e-3, -1.5e-3), min_experiments=3).compute()
    changed = ds.assign(expression=ds["expression"] * 2.0)
    table = similar_genes(changed, r_map, method="spearman")
    brain = ds["label"].values.reshape(-1) != 0
    expected, _ = _reference(values * 2.0, r_map.values.reshape(-1), brain, "spearman")
    np.testing.assert_allclose(_by_experiment(table, ds)["r"].to_numpy(), expected, rtol=1e-6)
    # a numpy map with a hemisphere restriction, pearson
    left = similar_genes(ds, r_map.values, hemisphere="left", top=3)
    assert len(left) == 3 and left.attrs["hemisphere"] == "left"


def test_per_gene_fisher_mean(ds, values):
    table = similar_genes(ds, int(ds["experiment"].values[4]), per_gene=True)
    brain = ds["label"].values.reshape(-1) != 0
    expected, n = _reference(values, values[4], brain)
    row = table.set_index("gene").loc["Gene0002"]  # experiments 2 and 3
    z = np.arctanh(expected[2:4])
    assert row["r"] == pytest.approx(np.tanh(z.mean()), rel=1e-6)
    assert row["r_max"] == pytest.approx(expected[2:4].max(), rel=1e-6)
    assert row["n_voxels"] == n[2:4].sum() and row["n_experiments"] == 2
    assert table.loc[0, "gene"] == "Gene0004"


def test_gene_with_two_experiments_uses_their_mean(ds, values):
    table = similar_genes(ds, "Gene0002")
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        mean = np.nanmean(values[2:4], axis=0)
    brain = ds["label"].values.reshape(-1) != 0
    expected, _ = _reference(values, mean, brain)
    np.testing.assert_allclose(_by_experiment(table, ds)["r"].to_numpy(), expected, rtol=1e-6)
    assert "mean" in table.attrs["query"]


@pytest.mark.skipif(not have_numba(), reason="the compiled loop needs numba")
def test_compiled_loop_equals_matrix_products(synthetic_raw):
    bits = synthetic_raw.reshape(len(synthetic_raw), -1).view(np.uint16)
    table = decode_table(True)
    voxels = np.arange(0, bits.shape[1], 3)
    maps = table[bits[:3][:, voxels]].astype(np.float64)
    q = prepare_queries(maps)
    loop = pairwise_sums(bits, table, voxels, *q, engine="numba")
    products = pairwise_sums(bits, table, voxels, *q, engine="numpy")
    np.testing.assert_allclose(loop, products, rtol=1e-10)
    r, _ = pearson(loop, 2)
    assert np.allclose(np.diag(r[:3]), 1.0)


def test_planted_family_ranks_first(planted):
    table = similar_genes(planted, "Pdyn")  # experiment 1
    families = planted_families(planted.sizes["experiment"])
    family_of = dict(zip(planted["experiment"].values, families, strict=True))
    n_family = int((families == families[1]).sum())
    top = [family_of[e] for e in table["experiment"].head(n_family)]
    assert top == [families[1]] * n_family
    assert table["r"].iloc[n_family - 1] > table["r"].iloc[n_family] + 0.02


def test_bad_queries_are_named(ds):
    with pytest.raises(KeyError, match="Experiment 5 is not in this dataset"):
        similar_genes(ds, 5)
    with pytest.raises(ValueError, match="grid shape"):
        similar_genes(ds, np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match="one \\(ml, dv, ap\\) volume"):
        similar_genes(ds, ds["expression"])
    with pytest.raises(ValueError, match="method"):
        similar_genes(ds, "Pdyn", method="kendall")
    with pytest.raises(TypeError, match="gene symbol"):
        similar_genes(ds, 1.5)
    empty = xr.full_like(ds["expression"].isel(experiment=0, drop=True), np.nan)
    with pytest.raises(ValueError, match="has a value in 0"):
        similar_genes(ds, empty)
    with pytest.raises(ValueError, match=r"is constant \(1\) on its .* undefined"):
        similar_genes(ds, xr.full_like(empty, 1.0))
    for seed in ("a", 1.5, True):  # checked before the pass, not by numpy after it
        with pytest.raises(TypeError, match=f"random_state must be None.*got {seed!r}"):
            similar_genes(ds, "Pdyn", n_null=5, random_state=seed)
    with pytest.raises(ValueError, match="random_state must be at least 0, got -1"):
        similar_genes(ds, "Pdyn", n_null=5, random_state=-1)
    experiment = int(ds["experiment"].values[0])
    with pytest.raises(KeyError, match=f"experiment ids are integers: pass {experiment} for"):
        similar_genes(ds, str(experiment))
    with pytest.raises(TypeError, match="per_gene must be"):
        similar_genes(ds, "Pdyn", per_gene="yes")
