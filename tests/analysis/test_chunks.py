"""The single pass: kernels over chunks of experiments, schedulers, numba, wrapped numpy."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tracemalloc
import warnings

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import agea_xr
from agea_xr import layout
from agea_xr.analysis import (
    _chunks,
    gene_finder,
    region_expression,
    seed_correlation,
    voxel_matrix,
)
from agea_xr.analysis._chunks import experiment_pass, expression_matrix
from agea_xr.reader import backend_array, lazy_rows, raw_bits
from agea_xr.regions import region_ids

from .reference import SEED_XYZ, region_reference


# --- the generic pass ---------------------------------------------------------------------
def _measured(block, table):
    """Measured voxels of every experiment of a chunk (a kernel of experiment_pass)."""
    values = table[block] if table is not None else block
    return np.isfinite(values).sum(axis=1).astype(np.float64)[:, None]


def _measured_total(block, table, weights):
    values = table[block] if table is not None else block
    return (np.isfinite(values) * weights).sum(axis=0, dtype=np.float64)


@pytest.mark.parametrize("touched", [False, True], ids=["raw-bits", "floats"])
def test_experiment_pass_keeps_or_adds_chunks(ds5, values, touched):
    data = ds5.isel(experiment=np.arange(ds5.sizes["experiment"]))  # same data, read again
    matrix = expression_matrix(data if touched else ds5)
    assert (matrix.mask is None) == touched
    per_experiment = experiment_pass(matrix, _measured, (1,))
    # the raw-bits pass reads its chunks inside its own tasks, several chunks per task
    assert per_experiment.chunks[0] == ((5, 5, 2) if touched else (12,))
    np.testing.assert_array_equal(per_experiment.compute()[:, 0], np.isfinite(values).sum(1))
    weights = np.arange(values.shape[1]) % 3
    total = experiment_pass(matrix, _measured_total, (values.shape[1],), weights, add=True)
    np.testing.assert_array_equal(total.compute(), (np.isfinite(values) * weights).sum(0))


def test_the_fused_pass_groups_whole_chunks_into_tasks(ds5, values, monkeypatch):
    monkeypatch.setattr(_chunks, "_TASK_ROWS", 10)
    matrix = expression_matrix(ds5)
    assert matrix.source is not None and matrix.starts == (0, 5, 10, 12)
    per_experiment = experiment_pass(matrix, _measured, (1,))
    assert per_experiment.chunks[0] == (10, 2)
    np.testing.assert_array_equal(per_experiment.compute()[:, 0], np.isfinite(values).sum(1))
    total = experiment_pass(matrix, _measured_total, (values.shape[1],), np.ones(1), add=True)
    assert total.npartitions == 1
    np.testing.assert_array_equal(total.compute(), np.isfinite(values).sum(0))


def _rows_filled(block, table, columns, out=None):
    """The chunk's values at ``columns``, decoded, written into ``out`` when given."""
    picked = block[:, columns]
    values = table[picked] if table is not None else picked.astype(np.float32)
    if out is None:
        return values
    out[...] = values
    return out


@pytest.mark.parametrize("touched", [False, True], ids=["raw-bits", "floats"])
@pytest.mark.parametrize("task_rows", [10, 256], ids=["two-tasks", "one-task"])
def test_kernels_fill_their_rows_and_experiments_can_come_last(
    ds5, values, touched, task_rows, monkeypatch
):
    # a kernel with out= fills its rows of the task's one result, chunk after chunk; with
    # experiments_last the pass gives (columns, experiment) blocks, no transpose after it
    monkeypatch.setattr(_chunks, "_TASK_ROWS", task_rows)
    data = ds5.isel(experiment=np.arange(ds5.sizes["experiment"])) if touched else ds5
    matrix = expression_matrix(data)
    columns = np.array([0, 7, 8, 9, values.shape[1] - 1, 3])
    expected = values[:, columns].astype(np.float32)
    rows = experiment_pass(matrix, _rows_filled, (columns.size,), columns, dtype=np.float32)
    np.testing.assert_array_equal(rows.compute(), expected)
    last = experiment_pass(
        matrix, _rows_filled, (columns.size,), columns, dtype=np.float32, experiments_last=True
    )
    assert last.shape == (columns.size, values.shape[0])
    np.testing.assert_array_equal(last.compute(), expected.T)
    if not touched:  # one task per group of chunks, and nothing after it
        assert len(last.__dask_graph__().layers) == 2
        assert last.chunks[1] == ((10, 2) if task_rows == 10 else (12,))


def _scratch_sums(block, table, columns, seen):
    """Row sums of the chunk's values at ``columns``, through a scratch array."""
    kept = "test-values" in getattr(_chunks._BUFFERS, "arrays", {})
    y = _chunks.scratch("test-values", (block.shape[0], columns.size), np.float32)
    y[...] = table[block[:, columns]]
    seen.append((block.shape[0], kept))
    return np.nansum(y, axis=1, dtype=np.float64)[:, None]


def test_scratch_arrays_serve_the_chunks_of_one_task_then_are_freed(ds5, values, monkeypatch):
    monkeypatch.setattr(_chunks, "_TASK_ROWS", 10)  # tasks of chunks (5, 5) and (2,)
    matrix = expression_matrix(ds5)
    columns = np.arange(0, values.shape[1], 7)
    seen: list[tuple[int, bool]] = []
    sums = experiment_pass(matrix, _scratch_sums, (1,), columns, seen=seen)
    with dask.config.set(scheduler="synchronous"):
        got = sums.compute()[:, 0]
    np.testing.assert_allclose(got, np.nansum(values[:, columns], axis=1), rtol=1e-6)
    # the 5-row chunks share a task: the second finds the first's array; the 2-row
    # chunk's task starts without one
    assert sorted(seen) == [(2, False), (5, False), (5, True)]
    assert set(_chunks._BUFFERS.arrays) == {"read"}  # freed at the task's end


def test_the_reader_owns_the_raw_bits(ds, values):
    data = ds["expression"].data
    assert backend_array(data).shape == data.shape
    bits, mask = raw_bits(data)
    assert mask is True and bits.dtype == np.uint16
    raw = bits.compute().view(np.float16).astype(np.float64)
    np.testing.assert_array_equal(np.where(raw == -1, np.nan, raw), values)
    assert raw_bits(ds["expression"].isel(experiment=[0, 2]).data) is None


# --- issue 10, case 10: wrapped numpy data is chunked, not copied whole ----------------------
@pytest.fixture(scope="module")
def big_memmap(tmp_path_factory, synthetic_raw):
    """200 experiments (64 MB of float16), the synthetic ones repeated, as a memmap."""
    path = tmp_path_factory.mktemp("memmap") / "expression.bin"
    n = 200
    out = np.memmap(path, dtype=layout.RAW_DTYPE, mode="w+", shape=(n, *layout.GRID_SHAPE))
    for start in range(0, n, synthetic_raw.shape[0]):
        stop = min(n, start + synthetic_raw.shape[0])
        out[start:stop] = synthetic_raw[: stop - start]
    out.flush()
    del out
    return np.memmap(path, dtype=layout.RAW_DTYPE, mode="r", shape=(n, *layout.GRID_SHAPE))


def _wrapped(mm, label):
    return xr.Dataset({"expression": agea_xr.wrap_volume(mm), "label": label})


def _peak(wrapped) -> tuple[int, xr.Dataset]:
    with dask.config.set(scheduler="synchronous"):
        tracemalloc.start()
        try:
            m = region_expression(wrapped, "Beryl", ["mean", "count"]).compute()
            return tracemalloc.get_traced_memory()[1], m
        finally:
            tracemalloc.stop()


def test_wrapped_memmap_is_read_chunk_by_chunk(big_memmap, ds, values):
    wrapped = _wrapped(big_memmap, ds["label"])
    matrix = expression_matrix(wrapped)
    assert matrix.data.chunks[0] == (32,) * 6 + (8,)
    assert matrix.mask is True  # float16: decoded through the table, -1 missing
    # memory does not grow with the experiments: 200 cost what 64 cost (a whole copy,
    # as xarray's .chunk() makes, would add 43 MB)
    small, _ = _peak(_wrapped(big_memmap[:64], ds["label"]))
    peak, m = _peak(wrapped)
    assert peak < small + 8e6, (peak, small)
    keys = region_ids(ds["label"].values, "Beryl").reshape(-1)
    expected = region_reference(values, keys, "mean")
    got = m["mean"].to_pandas()
    got.columns = m["region"].values
    for start in (0, 12, 192):  # the synthetic experiments, repeated
        np.testing.assert_allclose(
            got[expected.columns].to_numpy()[start : start + 8],
            expected.to_numpy()[:8],
            rtol=1e-6,
        )


def test_wrapped_memmap_voxel_matrix_and_pickling(big_memmap, ds, synthetic_raw):
    m = voxel_matrix(_wrapped(big_memmap, ds["label"]), "CA1")
    assert m.chunks[1] == (32,) * 6 + (8,)
    inside = np.flatnonzero(agea_xr.regions.region_mask(ds, "CA1").values.reshape(-1))
    flat = synthetic_raw.reshape(synthetic_raw.shape[0], -1)
    np.testing.assert_array_equal(m[:, :12].values, flat[:, inside].T)  # the stored values
    lazy = lazy_rows(big_memmap, 32)
    assert len(pickle.dumps(lazy)) < 100_000  # workers reopen the file, not its 64 MB
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(lazy))[40:42].compute(), big_memmap[40:42]
    )


# --- schedulers and the numba fallback -------------------------------------------------------
@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def test_distributed_gives_the_threaded_results(ds5, client):
    ds = ds5  # three chunks: the cluster combines partial results across workers
    with dask.config.set(scheduler="threads"):
        m_t = region_expression(ds, "Beryl", ["mean", "median", "count"]).compute()
        r_t = seed_correlation(ds, SEED_XYZ, min_experiments=6).compute()
        f_t = gene_finder(ds, "CA1", "HPF")
    with dask.config.set(scheduler=client.get):
        m_d = region_expression(ds, "Beryl", ["mean", "median", "count"]).compute()
        r_d = seed_correlation(ds, SEED_XYZ, min_experiments=6).compute()
        f_d = gene_finder(ds, "CA1", "HPF")
    xr.testing.assert_identical(m_t, m_d)
    xr.testing.assert_identical(r_t, r_d)
    pd.testing.assert_frame_equal(f_t, f_d)
    with dask.config.set(scheduler="threads"):
        v_t = voxel_matrix(ds, "CA1").compute()
    with dask.config.set(scheduler=client.get):
        v_d = voxel_matrix(ds, "CA1").compute()
    xr.testing.assert_identical(v_t, v_d)


def test_large_constants_are_scattered_and_give_the_threaded_results(ds5, client):
    # the spatial nulls' basis (voxels x 129 modes, tens of MB) goes to the workers once,
    # not inside the graph: distributed would warn of a large graph and route it through
    # the scheduler
    from agea_xr.analysis import similar_genes
    from agea_xr.analysis._chunks import _constant

    query = int(ds5["experiment"].values[3])
    with dask.config.set(scheduler="threads"):
        threaded = similar_genes(ds5, query, n_null=50, random_state=1)
    with dask.config.set(scheduler=client.get), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scattered = _constant(np.arange(2**18, dtype=np.float64))
        on_cluster = similar_genes(ds5, query, n_null=50, random_state=1)
    assert scattered.name.startswith("from-value-")  # from the scattered future
    np.testing.assert_array_equal(scattered.compute(scheduler=client.get), np.arange(2**18))
    assert not [w for w in caught if "large graph" in str(w.message)]
    pd.testing.assert_frame_equal(threaded, on_cluster)
    assert _constant(np.arange(10)).name.startswith("array-")  # small ones stay in the graph


def test_numba_disabled_gives_the_same_results(synthetic_dir, ds, tmp_path):
    code = (
        "import sys, agea_xr\n"
        "from agea_xr.analysis import region_expression\n"
        "assert not agea_xr.kernels.have_numba()\n"
        "ds = agea_xr.open_dataset(sys.argv[1])\n"
        "region_expression(ds, 'Beryl', ['mean', 'std', 'median']).compute()"
        ".to_netcdf(sys.argv[2])\n"
    )
    out = tmp_path / "fallback.nc"
    env = {**os.environ, "AGEA_XR_DISABLE_NUMBA": "1"}
    subprocess.run([sys.executable, "-c", code, str(synthetic_dir), str(out)], env=env, check=True)
    expected = region_expression(ds, "Beryl", ["mean", "std", "median"]).compute()
    with xr.open_dataset(out) as fallback:
        for name in ("mean", "std", "median"):
            np.testing.assert_array_equal(fallback[name].values, expected[name].values)
