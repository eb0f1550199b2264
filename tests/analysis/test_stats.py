"""Spatial nulls and p-values: calibration, power, preserved autocorrelation, references.

The calibration and power checks run on the left hemisphere of the real Allen
brain mask (31,000 voxels) to stay fast; the claim is about smooth maps on a
brain-shaped domain, which one hemisphere is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage, stats

import agea_xr
from agea_xr.analysis import nulls as nulls_module
from agea_xr.analysis.stats import p_two_sided, q_values

SIGMA = 2.0  # voxels (400 µm): smooth as gene maps at 200 µm are


@pytest.fixture(scope="module")
def hemisphere():
    mask = nulls_module.brain_mask()
    mask[29:] = False  # left hemisphere (ml index < 29)
    return mask


def _field(rng, mask, sigma=SIGMA):
    return np.where(mask, ndimage.gaussian_filter(rng.standard_normal(mask.shape), sigma), np.nan)


def test_calibration_spatial_vs_naive(hemisphere):
    """200 independent smooth pairs: p_spatial < 0.05 at the nominal 5%, p_naive far above."""
    rng = np.random.default_rng(11)
    p_spatial, p_naive = [], []
    for i in range(200):
        res = agea_xr.compare_maps(
            _field(rng, hemisphere),
            _field(rng, hemisphere),
            n_null=200,
            mask=hemisphere,
            random_state=i,
        )
        p_spatial.append(float(res.p_spatial))
        p_naive.append(float(res.p_naive))
    low, high = stats.binom.interval(0.95, 200, 0.05)
    hits = int((np.array(p_spatial) < 0.05).sum())
    assert low <= hits <= high, (hits, low, high)
    assert (np.array(p_naive) < 0.05).mean() > 0.5  # naive p fires far more often


def test_calibration_inside_one_small_region(sample):
    """In CA1 (1,128 voxels) too: the modes are the region's own, p_spatial is calibrated.

    The modes of the whole grid's box were nearly constant on a region and dependent
    there (a LinAlgError for similar_genes(..., mask="CA1", n_null=...)).
    """
    from agea_xr.regions import region_mask

    ca1 = region_mask(sample, "CA1").values
    basis, _ = nulls_module.spectral_basis(ca1)
    assert basis.shape == (int(ca1.sum()), 127)  # the one dependent mode left out
    np.testing.assert_allclose(basis.T @ basis, np.eye(basis.shape[1]), atol=1e-6)
    rng = np.random.default_rng(12)
    p_spatial = []
    for i in range(200):
        a, b = _field(rng, ca1), _field(rng, ca1)
        res = agea_xr.compare_maps(a, b, n_null=200, mask=ca1, random_state=i)
        p_spatial.append(float(res.p_spatial))
    low, high = stats.binom.interval(0.95, 200, 0.05)
    hits = int((np.array(p_spatial) < 0.05).sum())
    assert low <= hits <= high, (hits, low, high)
    table = agea_xr.similar_genes(sample, "Pdyn", mask="CA1", n_null=200, random_state=0)
    own = table.set_index("gene").loc["Pdyn"]
    assert own["r"] == pytest.approx(1.0) and own["p_spatial"] == pytest.approx(1 / 201)


def test_power_planted_component(hemisphere):
    """A shared smooth component (r about 0.5) is detected in most trials."""
    rng = np.random.default_rng(5)
    detected, rs = [], []
    for i in range(20):
        shared = _field(rng, hemisphere)
        a, b = shared + _field(rng, hemisphere), shared + _field(rng, hemisphere)
        res = agea_xr.compare_maps(a, b, n_null=200, mask=hemisphere, random_state=i)
        detected.append(float(res.p_spatial) < 0.05)
        rs.append(float(res.r))
    assert 0.35 < np.mean(rs) < 0.65
    assert np.mean(detected) >= 0.8


def _variogram(volume, mask, lag):
    """Half the mean squared difference of voxel pairs ``lag`` voxels apart (3 axes)."""
    total, count = 0.0, 0
    for axis in range(3):
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis], hi[axis] = slice(0, -lag), slice(lag, None)
        both = mask[tuple(lo)] & mask[tuple(hi)]
        d = volume[tuple(lo)][both] - volume[tuple(hi)][both]
        total, count = total + (d * d).sum(), count + d.size
    return total / count / 2


def test_surrogates_keep_autocorrelation(hemisphere):
    """Mean and variance exact; variogram at 200 µm within 5 %, at 400-1600 µm within 10 %."""
    rng = np.random.default_rng(3)
    x = _field(rng, hemisphere)
    s = agea_xr.null_maps(x, n=50, mask=hemisphere, random_state=0).values.astype(np.float64)
    assert np.isnan(s[:, ~hemisphere]).all() and np.isfinite(s[:, hemisphere]).all()
    values = s[:, hemisphere]
    np.testing.assert_allclose(values.mean(1), x[hemisphere].mean(), atol=1e-5)
    np.testing.assert_allclose(values.std(1), x[hemisphere].std(), rtol=1e-4)
    for lag, tolerance in ((1, 0.05), (2, 0.1), (4, 0.1), (8, 0.1)):
        original = _variogram(x, hemisphere, lag)
        mean = np.mean([_variogram(v, hemisphere, lag) for v in s])
        assert abs(mean / original - 1) < tolerance, (lag, mean, original)
    # and a surrogate is not the map (nor its negative)
    r = np.corrcoef(values, x[hemisphere])[-1, :-1]
    assert np.abs(r).max() < 0.9


def test_null_maps_reproducible_and_checked():
    pdyn = agea_xr.open_sample().agea.gene("Pdyn")
    a = agea_xr.null_maps(pdyn, n=4, random_state=7)
    b = agea_xr.null_maps(pdyn, n=4, random_state=7)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, agea_xr.null_maps(pdyn, n=4, random_state=8).values)
    with pytest.raises(ValueError, match="null method"):
        agea_xr.null_maps(pdyn, n=2, method="spin")
    with pytest.raises(ValueError, match="mask must be a boolean volume"):
        agea_xr.null_maps(pdyn, n=2, mask=np.ones((3, 3, 3), bool))


def test_compare_maps_values():
    """r and p_naive equal scipy's pearsonr; p_spatial is the count over the pooled nulls."""
    ds = agea_xr.open_sample()
    a, b = ds.agea.gene("Pdyn").astype(np.float64), ds.agea.gene("Nrp1").astype(np.float64)
    res = agea_xr.compare_maps(a, b, n_null=100, random_state=0)
    brain = ds["label"].values != 0
    both = brain & np.isfinite(a.values) & np.isfinite(b.values)
    ref = stats.pearsonr(a.values[both], b.values[both])
    assert float(res.r) == pytest.approx(ref.statistic, abs=1e-12)
    assert float(res.p_naive) == pytest.approx(ref.pvalue, rel=1e-9)
    assert int(res.n_voxels) == both.sum()
    null = res["null"].values
    expected = (1 + (np.abs(null) >= abs(ref.statistic)).sum()) / (1 + null.size)
    assert float(res.p_spatial) == pytest.approx(expected)
    # the null of map a equals the correlation of explicit surrogates of a with b
    s = agea_xr.null_maps(a, n=100, mask=both, random_state=0).values[:, both]
    explicit = np.array([stats.pearsonr(v, b.values[both]).statistic for v in s])
    np.testing.assert_allclose(null[0], explicit, atol=1e-5)


def test_p_and_q_helpers():
    assert p_two_sided(np.array([0.5]), np.array([[0.1, -0.6, 0.5, 0.2]]))[0] == 3 / 5
    p = np.array([0.01, np.nan, 0.04, 0.03, 0.5])
    q = q_values(p)
    ok = np.isfinite(p)
    np.testing.assert_allclose(q[ok], stats.false_discovery_control(p[ok]))
    assert np.isnan(q[1])


def _explicit_nulls(values, query, used, n_null, seed):
    """Reference: explicit surrogates, pairwise-masked Pearson r with every experiment."""
    parts = nulls_module.decompose(query[used], used)
    rng = np.random.default_rng(seed)
    signs = nulls_module.random_signs(rng, n_null, parts.n_parts)
    surrogates = parts.surrogates(signs)
    y = values[:, used.reshape(-1)]
    r = np.array([pd.Series(row).corr(pd.Series(query[used])) for row in y])
    null = np.array([[pd.Series(row).corr(pd.Series(v)) for v in surrogates] for row in y])
    return r, null


def _explicit_p(values, query, used, n_null, seed):
    r, null = _explicit_nulls(values, query, used, n_null, seed)
    return r, p_two_sided(r, null)


def _smooth_query(ds, values):
    """A smooth map on the brain voxels measured in every experiment, and those voxels."""
    rng = np.random.default_rng(0)
    measured = np.isfinite(values).all(axis=0).reshape(ds["label"].shape)
    used = measured & (ds["label"].values != 0)
    query = np.where(used, ndimage.gaussian_filter(rng.standard_normal(used.shape), 2), np.nan)
    return query, used


def test_similar_genes_nulls_match_explicit_surrogates(ds, values):
    """On voxels measured in every experiment, the one-pass nulls equal explicit surrogates."""
    query, used = _smooth_query(ds, values)
    table = agea_xr.similar_genes(ds, query, n_null=60, random_state=1, min_voxels=3)
    table = table.sort_values("experiment")
    order = np.argsort(ds["experiment"].values)
    r, p = _explicit_p(values[order], query, used, 60, 1)
    np.testing.assert_allclose(table["r"], r, atol=1e-6)
    np.testing.assert_allclose(table["p_spatial"], p, atol=2 / 61)
    np.testing.assert_allclose(table["q"], q_values(table["p_spatial"].to_numpy()))


def test_similar_genes_per_gene_nulls_pool_each_genes_experiments(ds, values):
    # genes with several experiments: each surrogate's r of a gene is the Fisher mean of
    # its experiments' r, as the observed one (this crashed on a shape mismatch)
    query, used = _smooth_query(ds, values)
    genes = ds["gene"].values
    assert pd.Series(genes).value_counts().max() > 1
    table = agea_xr.similar_genes(
        ds, query, per_gene=True, n_null=60, random_state=1, min_voxels=3
    ).set_index("gene")
    r, null = _explicit_nulls(values, query, used, 60, 1)
    for gene in np.unique(genes):
        rows = genes == gene
        r_gene = np.tanh(np.arctanh(r[rows]).mean())
        null_gene = np.tanh(np.arctanh(null[rows]).mean(axis=0))
        p_gene = p_two_sided(np.array([r_gene]), null_gene[None])[0]
        assert table.loc[gene, "n_experiments"] == rows.sum()
        np.testing.assert_allclose(table.loc[gene, "r"], r_gene, atol=1e-6)
        np.testing.assert_allclose(table.loc[gene, "p_spatial"], p_gene, atol=2 / 61)
    np.testing.assert_allclose(table["q"], q_values(table["p_spatial"].to_numpy()))


def test_gene_finder_p_spatial(sample):
    """Pdyn is enriched in the striatum beyond random smooth regions; Nrp1 is not."""
    t = agea_xr.gene_finder(sample, "STR", n_null=200, random_state=0).set_index("gene")
    assert t.loc["Pdyn", "p_spatial"] < 0.05 < t.loc["Nrp1", "p_spatial"]
    np.testing.assert_allclose(t["q"], q_values(t["p_spatial"].to_numpy()))
    plain = agea_xr.gene_finder(sample, "STR").set_index("gene")
    pd.testing.assert_frame_equal(t[plain.columns], plain)
    again = agea_xr.gene_finder(sample, "STR", n_null=200, random_state=0).set_index("gene")
    pd.testing.assert_frame_equal(t, again)
