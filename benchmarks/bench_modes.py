"""AGEA's modes: similar_genes (one query, all experiments) and clusters (all brain voxels).

``similar_genes`` is compared with the numpy full pass (one float32 mean over all
experiments, read from a memmap); ``clusters`` reports its time and peak private
memory. Both run again on a 2-worker ``dask.distributed`` LocalCluster (one
thread per worker, processes), compared with the threaded run: the peak memory
of those rows is this process's only, not the workers'.
"""

from __future__ import annotations

from agea_xr import open_dataset
from agea_xr.analysis import clusters, similar_genes
from benchmarks.common import Case, full_pass_mean, memmap, on_local_cluster

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
    Case(
        "similar_genes on a 2-worker LocalCluster",
        run=lambda state: _similar(state[0]),
        setup=on_local_cluster,
        baseline=SIMILAR,
        repeat=3,
        note="ratio to the threaded run; peak of this process only",
    ),
    Case(CLUSTERS, run=_clusters, setup=open_dataset, repeat=1),
    Case(
        "clusters on a 2-worker LocalCluster",
        run=lambda state: _clusters(state[0]),
        setup=on_local_cluster,
        baseline=CLUSTERS,
        repeat=1,
        note="ratio to the threaded run; peak of this process only",
    ),
]
