"""AGEA's modes: similar_genes (one query, all experiments) and clusters (all brain voxels).

``similar_genes`` is compared with the numpy full pass (one float32 mean over all
experiments, read from a memmap); ``clusters`` reports its time and peak private
memory. Both run again on a 2-worker ``dask.distributed`` LocalCluster (one
thread per worker, processes), compared with the threaded run timed in turn in
the same process: the peak memory of those rows is this process's only, not the
workers'.
"""

from __future__ import annotations

from agea_xr import open_dataset
from agea_xr.analysis import clusters, similar_genes
from benchmarks.common import Case, cluster_case, full_pass_mean, memmap

FULL_PASS = "numpy full pass (modes baseline)"
SIMILAR = "similar_genes(one experiment's map vs all)"
CLUSTERS = "clusters(20, all brain voxels, all experiments)"


def _query(ds):
    return int(ds["experiment"].values[0])


def _similar(ds):
    return similar_genes(ds, _query(ds))


def _clusters(ds):
    return clusters(ds, 20, random_state=0)


CASES = [
    Case(FULL_PASS, run=full_pass_mean, setup=memmap, repeat=3),
    Case(SIMILAR, run=_similar, setup=open_dataset, baseline=FULL_PASS, repeat=3),
    cluster_case("similar_genes", _similar, SIMILAR, 5),
    Case(CLUSTERS, run=_clusters, setup=open_dataset, repeat=1),
    cluster_case("clusters", _clusters, CLUSTERS, 1),
]
