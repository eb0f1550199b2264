"""Cell-type volume rows: one type of a cluster-level-size file, and similar() over all types.

A synthetic ``merfish_cluster.npy`` of the real cluster level's size (5,322 types,
1.7 GB of float16; ``--n`` types when it is smaller than the full 4,345) is written
once beside the AGEA data. Rows: one cell type read by :func:`agea_xr.open_cell_types`
(one byte range) against ``np.load(mmap_mode="r")``; and :func:`agea_xr.similar` of one
gene map against every type against one plain numpy pass over the file (blocks of 64
types, masked Pearson sums in float64), and again on a 2-worker LocalCluster.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agea_xr import layout
from agea_xr import volumes_layout as vl
from benchmarks.common import Case, cluster_case

#: Types of the real cluster level.
FULL_TYPES = vl.N_TYPES["cluster"]


def _folder(data: Path) -> Path:
    """``merfish-<n>/`` beside the AGEA data, with a cluster-level-size volume (written once)."""
    n_experiments = (data / layout.binary_file("raw")).stat().st_size // layout.VOLUME_BYTES
    n_types = FULL_TYPES if n_experiments >= layout.N_EXPERIMENTS else n_experiments
    folder = data.parent / f"merfish-{n_types}"
    done = folder / ".complete"
    if done.is_file():
        return folder
    import agea_xr.testing as t

    t.write_merfish(folder, levels=())  # the taxonomy tables
    import pandas as pd

    table = pd.read_parquet(folder / vl.TAXONOMY_TABLE["cluster"])
    names = [f"{i:04d} Cluster{i}" for i in range(1, n_types + 1)]
    parents = [n for n in table["supertype"] if n]
    big = pd.DataFrame(
        {
            "cluster": ["", *names],
            "cluster_color": ["", *(["#808080"] * n_types)],
            "cluster_rgba": np.zeros(n_types + 1, dtype=np.uint32),
            "supertype": ["", *(parents[i % len(parents)] for i in range(n_types))],
            "cluster_alias": np.arange(n_types + 1),
        }
    )
    big.index.name = "cluster_id"
    big.to_parquet(folder / vl.TAXONOMY_TABLE["cluster"])
    np.save(folder / vl.labels_file("cluster"), np.arange(1, n_types + 1, dtype=np.int64))
    shape = (n_types, *layout.GRID_SHAPE)
    out = np.lib.format.open_memmap(
        folder / vl.volume_file("cluster"), mode="w+", dtype=vl.MERFISH_DTYPE, shape=shape
    )
    rng = np.random.default_rng(0)
    outside = t.synthetic_label() == 0
    for start in range(0, n_types, 256):
        block = rng.gamma(0.5, 2.0, size=(min(256, n_types - start), *layout.GRID_SHAPE))
        block[:, outside] = np.nan
        out[start : start + block.shape[0]] = block.astype(vl.MERFISH_DTYPE)
    out.flush()
    del out
    done.write_text("ok")
    return folder


def _ours(data: Path):
    from agea_xr import open_cell_types

    ct = open_cell_types(_folder(data), "cluster")
    return ct, ct.sizes["cell_type"] // 2


def _one_ours(state):
    ct, k = state
    return ct.density.isel(cell_type=k).values


def _mmap(data: Path):
    mm = np.load(_folder(data) / vl.volume_file("cluster"), mmap_mode="r")
    return mm, mm.shape[0] // 2


def _one_mmap(state):
    mm, k = state
    return np.array(mm[k])


def _one_np_load(state):
    path, k = state
    return np.array(np.load(path, mmap_mode="r")[k])


def _path(data: Path):
    return _folder(data) / vl.volume_file("cluster"), _mmap(data)[1]


def _reader(data: Path):
    from agea_xr.volumes._npy import ItemFile

    path, k = _path(data)
    return ItemFile(path), k


def _one_reader(state):
    item, k = state
    return item.read(k, k + 1)[0]


def _query() -> np.ndarray:
    import agea_xr

    return agea_xr.open_sample().agea.gene("Pdyn").values.astype(np.float64)


def _similar_ours(data: Path):
    from agea_xr import open_cell_types

    return _query(), open_cell_types(_folder(data), "cluster", chunks={})


def _similar_numpy_setup(data: Path):
    from agea_xr import open_sample

    label = np.asarray(open_sample().label.values).reshape(-1)
    return _query().reshape(-1), label != 0, _folder(data) / vl.volume_file("cluster")


def _similar_numpy(state):
    """One numpy pass: masked Pearson r of the query with every type, blocks of 64 types."""
    query, brain, path = state
    mm = np.load(path, mmap_mode="r")
    q_ok = np.isfinite(query) & brain
    y = np.where(q_ok, query, 0.0)
    r = np.empty(mm.shape[0])
    for start in range(0, mm.shape[0], 64):
        x = np.asarray(mm[start : start + 64], dtype=np.float64).reshape(-1, query.size)
        ok = np.isfinite(x) & q_ok
        m = ok.astype(np.float64)
        x0 = np.where(ok, x, 0.0)
        n = m.sum(1)
        sx, sy = x0.sum(1), m @ y
        sxx, syy, sxy = (x0 * x0).sum(1), m @ (y * y), x0 @ y
        r[start : start + 64] = (sxy - sx * sy / n) / np.sqrt(
            (sxx - sx * sx / n) * (syy - sy * sy / n)
        )
    return r


def _run_similar(state):
    from agea_xr import similar

    query, ct = state[:2]
    return similar(query, ct)


_NP_LOAD = "volumes: one cell type, np.load(mmap_mode='r') then the type"
_SIMILAR = "volumes: similar, agea_xr.similar(gene map, every cluster type)"
CASES = [
    Case(_NP_LOAD, run=_one_np_load, setup=_path, repeat=50, note="as iblatlas opens it"),
    Case(
        "volumes: one cell type, an open memmap (no open)",
        run=_one_mmap,
        setup=_mmap,
        baseline=_NP_LOAD,
        repeat=50,
    ),
    Case(
        "volumes: one cell type, agea_xr.open_cell_types (one byte range)",
        run=_one_ours,
        setup=_ours,
        baseline=_NP_LOAD,
        repeat=50,
        note="dataset opened once; xarray indexing included",
    ),
    Case(
        "volumes: one cell type, the byte-range reader alone",
        run=_one_reader,
        setup=_reader,
        baseline=_NP_LOAD,
        repeat=50,
    ),
    Case(
        "volumes: similar, one numpy pass over every cluster type",
        run=_similar_numpy,
        setup=_similar_numpy_setup,
        repeat=3,
    ),
    Case(
        _SIMILAR,
        run=_run_similar,
        setup=_similar_ours,
        baseline="volumes: similar, one numpy pass over every cluster type",
        repeat=3,
    ),
    cluster_case("volumes: similar", _run_similar, _SIMILAR, 5, setup=_similar_ours),
]
