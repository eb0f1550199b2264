"""Analysis rows: region matrix, seed correlation, gene finder, voxel matrix; numpy baselines.

Every analysis runs again on a 2-worker ``dask.distributed`` LocalCluster (one
thread per worker, processes, :func:`benchmarks.common.cluster_case`), compared
with its threaded run on the same two cores, timed in turn in the same process:
the peak memory of those rows is this process's only, not the workers'.
"""

from __future__ import annotations

import numpy as np

from agea_xr import layout, open_dataset
from agea_xr.analysis import gene_finder, region_expression, seed_correlation, voxel_matrix
from agea_xr.regions import region_ids
from benchmarks.common import Case, cluster_case, full_pass_mean, memmap

SEED = (-1.5e-3, -2.0e-3, -1.5e-3)


def _bincount_setup(folder):
    ids = region_ids(np.load(folder / layout.LABEL_FILE), "Beryl").reshape(-1)
    unique, codes = np.unique(ids, return_inverse=True)
    return memmap(folder), codes, unique.size


def _bincount_memmap(state):
    # a naive numpy region matrix: one bincount per experiment over the whole grid
    # (void included), -1 excluded; kept as an extra row, not the baseline
    mm, codes, n = state
    sums = np.empty((mm.shape[0], n))
    counts = np.empty((mm.shape[0], n))
    for e in range(mm.shape[0]):
        v = np.asarray(mm[e], dtype=np.float32).reshape(-1)
        ok = v != -1
        sums[e] = np.bincount(codes[ok], weights=v[ok], minlength=n)
        counts[e] = np.bincount(codes[ok], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def _onehot_setup(folder):
    # the brain voxels (region_expression leaves void out too) and a sparse one-hot
    # (voxel x region) matrix of their Beryl regions, built once
    import scipy.sparse

    ids = region_ids(np.load(folder / layout.LABEL_FILE), "Beryl").reshape(-1)
    brain = np.flatnonzero(ids != 0)
    unique, codes = np.unique(ids[brain], return_inverse=True)
    onehot = scipy.sparse.csr_matrix(
        (np.ones(brain.size, np.float32), (np.arange(brain.size), codes)),
        shape=(brain.size, unique.size),
    )
    return memmap(folder), brain, onehot


def _onehot_memmap(state):
    # a good plain numpy region matrix: blocks of 32 experiments, the brain voxels'
    # float16 values gathered then converted to float32, -1 excluded, sums and
    # counts by one sparse one-hot matrix product each
    mm, brain, onehot = state
    flat = mm.reshape(mm.shape[0], -1)
    n = onehot.shape[1]
    sums = np.empty((mm.shape[0], n))
    counts = np.empty((mm.shape[0], n))
    for start in range(0, mm.shape[0], 32):
        block = np.asarray(flat[start : start + 32])[:, brain].astype(np.float32)
        ok = block != -1
        stop = start + block.shape[0]
        sums[start:stop] = np.where(ok, block, 0) @ onehot
        counts[start:stop] = ok.astype(np.float32) @ onehot
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def _region_mean(ds):
    return region_expression(ds, "Beryl", "mean").values


def _region_median(ds):
    return region_expression(ds, "Beryl", "median").values


def _seed(ds):
    return seed_correlation(ds, SEED).compute()


def _finder(ds):
    return gene_finder(ds, "CA1", "HPF")


def _voxels(ds):
    return voxel_matrix(ds, "CA1").values


def _voxels_kept(ds):
    # what a cluster user does with a matrix for dask-ml or several uses: keep it on
    # the workers (threaded, the same call computes it in this process)
    from dask.distributed import wait

    from agea_xr.analysis._chunks import cluster_client

    m = voxel_matrix(ds, "CA1").data
    if cluster_client() is None:
        return m.compute()
    kept = m.persist()
    wait(kept)
    return kept


def _finalize_setup(folder):
    # voxel_matrix(CA1) computed and kept on the workers ((1128, 4345) float32 in 17
    # chunks at full size), to time dask's own loading of a computed array to the client
    import dask.array as dska
    from dask.distributed import wait

    from benchmarks.common import local_cluster

    client = local_cluster()
    ds = open_dataset(folder)
    kept = voxel_matrix(ds, "CA1").data.persist()
    wait(kept)
    return dska.Array(kept.dask, kept.name, kept.chunks, dtype=kept.dtype), client


def _finalize(state):
    return state[0].compute()


ONEHOT = "region matrix: numpy sparse one-hot, brain voxels, blocks of 32 (memmap)"
NAIVE = "region matrix: numpy bincount per experiment, whole grid (memmap, naive)"
FULL_PASS = "numpy full pass: float32 mean over experiments (memmap)"
VOXELS = "voxel_matrix(CA1) loaded: (voxel, experiment) float32"

CASES = [
    Case(ONEHOT, run=_onehot_memmap, setup=_onehot_setup, repeat=3),
    Case(
        NAIVE,
        run=_bincount_memmap,
        setup=_bincount_setup,
        baseline=ONEHOT,
        repeat=3,
        note="extra row: the former baseline",
    ),
    Case(
        "region_expression(mean, Beryl)",
        run=_region_mean,
        setup=open_dataset,
        baseline=ONEHOT,
        repeat=5,
    ),
    Case(
        "region_expression(median, Beryl)",
        run=_region_median,
        setup=open_dataset,
        baseline=ONEHOT,
        repeat=3,
        note="selects every region's middle values",
    ),
    Case(FULL_PASS, run=full_pass_mean, setup=memmap, repeat=3),
    Case("seed_correlation(voxel)", run=_seed, setup=open_dataset, baseline=FULL_PASS, repeat=5),
    Case("gene_finder(CA1 vs HPF)", run=_finder, setup=open_dataset, baseline=FULL_PASS, repeat=5),
    Case(VOXELS, run=_voxels, setup=open_dataset, baseline=FULL_PASS, repeat=5),
    cluster_case("region_expression(mean)", _region_mean, "region_expression(mean, Beryl)", 7),
    cluster_case(
        "region_expression(median)", _region_median, "region_expression(median, Beryl)", 5
    ),
    cluster_case("seed_correlation", _seed, "seed_correlation(voxel)", 7),
    cluster_case("gene_finder", _finder, "gene_finder(CA1 vs HPF)", 7),
    cluster_case("voxel_matrix(CA1)", _voxels, VOXELS, 7),
    cluster_case("voxel_matrix(CA1), kept on the workers (persist)", _voxels_kept, VOXELS, 7),
    Case(
        "dask alone: voxel_matrix(CA1) already kept on the workers, loaded to the client",
        run=_finalize,
        setup=_finalize_setup,
        repeat=7,
        note="no analysis: what any dask array's .values pays on a cluster for its "
        "size (20 MB at full size: one worker gathers the chunks, joins them, sends them)",
    ),
]
