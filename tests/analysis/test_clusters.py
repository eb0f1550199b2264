"""clusters recovers planted regions, deterministically, on any scheduler; agreement's scores."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import comb

import agea_xr
from agea_xr.analysis import agreement, clusters
from agea_xr.regions import region_ids
from agea_xr.testing import planted_regions, write_planted


def _ari(a, b):
    """Adjusted Rand index from the contingency table (Hubert & Arabie 1985), plain numpy."""
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = np.zeros((ai.max() + 1, bi.max() + 1))
    np.add.at(table, (ai, bi), 1)
    index = comb(table, 2).sum()
    rows, cols = comb(table.sum(1), 2).sum(), comb(table.sum(0), 2).sum()
    expected = rows * cols / comb(len(a), 2)
    return (index - expected) / ((rows + cols) / 2 - expected)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return agea_xr.open_dataset(write_planted(tmp_path_factory.mktemp("planted"), 36))


@pytest.fixture(scope="module")
def levels(planted):
    return clusters(planted, [11, 20], random_state=0)


def test_planted_regions_are_recovered(levels):
    truth = planted_regions()
    inside = truth > 0
    eleven = levels.sel(n_clusters=11).values
    assert _ari(truth[inside], eleven[inside]) >= 0.9
    assert (eleven[~inside] == 0).all()
    assert sorted(np.unique(eleven[inside])) == list(range(1, 12))
    # one tree: every cluster of the finer level lies inside one of the coarser
    twenty = levels.sel(n_clusters=20).values
    for k in np.unique(twenty[inside]):
        assert np.unique(eleven[twenty == k]).size == 1
    linkage = np.reshape(levels.attrs["linkage"], (-1, 4))
    assert linkage.shape == (levels.attrs["n_microclusters"] - 1, 4)
    assert (np.diff(linkage[:, 2]) >= -1e-9).all()  # Ward merges at growing heights


def test_deterministic_with_random_state(planted, levels):
    one = clusters(planted, 11, random_state=0)
    np.testing.assert_array_equal(one.values, levels.sel(n_clusters=11).values)
    assert one.dims == ("ml", "dv", "ap") and int(one["n_clusters"]) == 11


def test_contiguity_and_average_linkage_on_a_mask(planted):
    c = clusters(planted, 4, mask="CTX", connectivity=True, method="average", random_state=1)
    ctx = planted.agea.region_mask("CTX").values
    assert ((c.values > 0) == ctx).all()
    assert c.attrs["connectivity"] == 1 and c.attrs["mask"] == "CTX"


def test_same_labels_on_a_local_cluster(planted, levels):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster),
    ):
        remote = clusters(planted, [11, 20], random_state=0)
    np.testing.assert_array_equal(remote.values, levels.values)


def test_agreement_matches_numpy(levels):
    table = agreement(levels, mapping="Cosmos")
    regions = region_ids(levels["label"].values, "Cosmos")
    for k in (11, 20):
        got = levels.sel(n_clusters=k).values
        both = (got > 0) & (regions != 0)
        assert table.loc[k, "adjusted_rand"] == pytest.approx(
            _ari(regions[both], got[both]), rel=1e-9
        )
        assert table.loc[k, "n_voxels"] == both.sum()
    assert table["adjusted_mutual_info"].between(0, 1).all()
    assert table.loc[11, "n_regions"] == 11


def test_bad_arguments(planted):
    with pytest.raises(ValueError, match="method"):
        clusters(planted, 3, method="single")
    with pytest.raises(ValueError, match="exceeds the"):
        clusters(planted, 10_000, mask="CA1")
    with pytest.raises(ValueError, match="at least 2 experiments"):
        clusters(planted, 3, genes="Pdyn")
    with pytest.raises(ValueError, match="n_clusters is empty"):
        clusters(planted, [])
    with pytest.raises(ValueError, match=r"n_clusters repeats \[3\]: give each level once"):
        clusters(planted, [3, 5, 3])
    with pytest.raises(ValueError, match="n_clusters=11 exceeds n_microclusters=5.*=22"):
        clusters(planted, 11, n_microclusters=5)
    with pytest.raises(TypeError, match="random_state must be None or a non-negative"):
        clusters(planted, 3, random_state="x")
    with pytest.raises(ValueError, match="random_state must be at least 0"):
        clusters(planted, 3, random_state=-1)
    float_labels = clusters(planted, 3, mask="CA1", random_state=0).astype(float)
    with pytest.raises(ValueError, match=r"integer labels.*float64.*astype\(int\)"):
        agreement(float_labels)


def test_more_clusters_than_the_default_leaves(sample):
    # 250 clusters: the tree gets twice as many leaves, not the old fixed 200 (which
    # returned 200 clusters without a word)
    c = clusters(sample, 250, random_state=0)
    assert c.attrs["n_microclusters"] == 500
    assert np.unique(c.values[c.values > 0]).tolist() == list(range(1, 251))
