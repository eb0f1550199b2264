"""The single pass every analysis makes: a per-chunk kernel over all experiments.

:func:`expression_matrix` turns a dataset's ``expression`` into a lazy
``(experiment, voxel)`` matrix, chunked by experiments (one chunk of all
voxels): the raw float16 bits when the dataset is untouched (read by
:func:`agea_xr.reader.raw_bits`, decoded by a lookup table inside the
kernels), the decoded float values otherwise. :func:`experiment_pass` maps a
kernel over its chunks and either keeps one result per experiment or sums the
chunks' results; :func:`segment_sums` and :func:`segment_medians` are the two
passes the region-based analyses share. On a file opened by ``open_dataset`` (or
``open_cell_types``, ``open_lipids``) untouched, every task of the pass reads its
own rows, a few chunks one after the other, and returns one small result: no chunk
of data travels between tasks or ``dask.distributed`` workers, and the scheduler
handles a few dozen tasks instead of hundreds.

Every kernel receives ``(block, table, *constants, **options)``: ``block`` the
chunk ``(experiments, voxels)``, ``table`` the float16 decode table (None when
``block`` holds floats, NaN = no measurement), and numpy constants that dask
holds as one graph key each (sent once to each ``dask.distributed`` worker,
not inside every task). Kernels must be module-level functions (picklable), and
return new arrays, never their block or a view of it (blocks read from a file share
one buffer per thread).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from .. import kernels
from ..layout import AP, DIMS, DV, EXPERIMENT, ML, VOXELS_PER_VOLUME

__all__ = [
    "ExpressionMatrix",
    "experiment_pass",
    "expression_matrix",
    "group_sums",
    "one_blas_thread",
    "scratch",
    "segment_medians",
    "segment_sums",
]


@dataclass(frozen=True)
class ExpressionMatrix:
    """A dataset's expression as a lazy ``(experiment, voxel)`` dask matrix.

    Attributes
    ----------
    data : dask.array.Array
        ``(experiment, voxel)``, voxels in (ml, dv, ap) C order, chunked by
        experiments, one chunk along voxels.
    mask : bool or None
        True/False when ``data`` holds raw float16 bits (uint16) and whether
        ``-1`` means "no measurement" in them; None when it holds float values
        (NaN = no measurement).
    source : RangeFile or None
        The file ``data`` reads, when ``data`` is an untouched backend read: the
        pass then reads its rows inside its own tasks (:func:`agea_xr.reader.read_rows`).
    starts : tuple of int
        With ``source``: the first row of every chunk of ``data``, then the total.
    """

    data: Any
    mask: bool | None
    source: Any = None
    starts: tuple[int, ...] = ()

    @property
    def n_experiments(self) -> int:
        """Number of experiments (rows)."""
        return int(self.data.shape[0])

    @property
    def n_voxels(self) -> int:
        """Number of voxels (columns)."""
        return int(self.data.shape[1])


def _as_bits(block: np.ndarray, n_voxels: int) -> np.ndarray:
    block = np.ascontiguousarray(block)
    return block.reshape(block.shape[0], n_voxels).view(np.uint16)


def _as_float(block: np.ndarray, n_voxels: int) -> np.ndarray:
    block = np.asarray(block)
    if block.dtype.kind != "f":
        block = block.astype(np.float32)
    return block.reshape(block.shape[0], n_voxels)


def check_dataset(ds: xr.Dataset) -> xr.DataArray:
    """The ``expression`` of an AGEA dataset, dims ``(experiment, ml, dv, ap)``.

    Raises
    ------
    ValueError
        If ``ds`` is not a Dataset with an ``expression`` over all four dims.
    """
    if not isinstance(ds, xr.Dataset) or "expression" not in ds:
        raise ValueError(
            "The analyses need an AGEA Dataset with an 'expression' variable, as "
            "agea_xr.open_dataset() returns; got "
            f"{type(ds).__name__} without it. Call them on the Dataset (ds.agea...)."
        )
    expr = ds["expression"]
    if set(expr.dims) != set(DIMS):
        raise ValueError(
            f"'expression' has dims {expr.dims}; the analyses need all of {DIMS} "
            "(select ranges with slices, not single planes or experiments)."
        )
    return expr.transpose(*DIMS)


def chunked(expr: xr.DataArray) -> xr.DataArray:
    """``expr`` with dask chunks of whole experiments, without copying in-memory data.

    A numpy-backed array (``wrap_volume(np.memmap(...))``) is chunked with
    :func:`agea_xr.reader.lazy_rows`: xarray's ``.chunk()`` would copy it whole
    first. Arrays already chunked, and lazily indexed backend arrays, go through
    unchanged or through ``.chunk()``.
    """
    from ..dataset import CHUNK_EXPERIMENTS
    from ..reader import lazy_rows

    if expr.chunks is not None:
        return expr
    stored = expr.variable._data
    if isinstance(stored, np.ndarray):
        axis = expr.dims.index(EXPERIMENT) if EXPERIMENT in expr.dims else 0
        order = (axis, *(i for i in range(expr.ndim) if i != axis))
        data = lazy_rows(np.transpose(stored, order), CHUNK_EXPERIMENTS)
        dims = tuple(expr.dims[i] for i in order)
        return expr.transpose(*dims).copy(deep=False, data=data)
    return expr.chunk({EXPERIMENT: CHUNK_EXPERIMENTS, ML: -1, DV: -1, AP: -1})


def expression_matrix(ds: xr.Dataset) -> ExpressionMatrix:
    """The dataset's expression as a lazy ``(experiment, voxel)`` matrix.

    Parameters
    ----------
    ds : xarray.Dataset
        An AGEA dataset; any selection of experiments or ranges of voxels.

    Returns
    -------
    ExpressionMatrix
        Raw bits (``mask`` True/False) when ``ds`` is untouched as
        ``open_dataset`` returns it, float values (``mask`` None) otherwise.

    Raises
    ------
    ValueError
        See :func:`check_dataset`.
    """
    from ..reader import backend_array, raw_bits, row_starts

    data = chunked(check_dataset(ds)).data
    if any(len(c) != 1 for c in data.chunks[1:]):
        data = data.rechunk({1: -1, 2: -1, 3: -1})
    raw_missing = ds.attrs.get("variant", "raw") == "raw"
    n_voxels = int(np.prod(data.shape[1:]))
    backend = backend_array(data)
    reads: dict[str, Any] = {}
    if backend is not None and backend.source.dtype.kind == "f":
        reads = {"source": backend.source, "starts": row_starts(data)}
    bits = raw_bits(data)
    if bits is not None:
        array, mask = bits
        return ExpressionMatrix(array, raw_missing if mask is None else mask, **reads)
    chunks = (data.chunks[0], (n_voxels,))
    if data.dtype == np.float16:
        array = data.map_blocks(
            _as_bits, n_voxels, chunks=chunks, drop_axis=(2, 3), dtype=np.uint16
        )
        return ExpressionMatrix(array, raw_missing)
    dtype = data.dtype if data.dtype.kind == "f" else np.dtype(np.float32)
    array = data.map_blocks(_as_float, n_voxels, chunks=chunks, drop_axis=(2, 3), dtype=dtype)
    if reads and backend.source.dtype != dtype:
        reads = {}
    return ExpressionMatrix(array, None, **reads)


def one_blas_thread():
    """A context in which BLAS runs single-threaded (threadpoolctl), or a no-op without it.

    The threaded scheduler runs one task per core already; matrix products in
    several tasks at once, each on all cores' BLAS threads, oversubscribe the
    machine (``dask.distributed`` workers set one BLAS thread themselves).
    """
    import contextlib

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


#: Constants of at least this many bytes go to a cluster's workers directly (scattered).
_SCATTER_BYTES = 2**20


def cluster_client():
    """The ``dask.distributed`` client dask computes on (the default scheduler), or None."""
    import sys

    import dask.base

    if "distributed" not in sys.modules:  # never imported: no client exists
        return None
    from distributed import Client

    client = getattr(dask.base.get_scheduler(), "__self__", None)
    return client if isinstance(client, Client) else None


def _constant(array: np.ndarray):
    """A numpy array as a one-chunk dask array: one graph key every task depends on.

    On a ``dask.distributed`` client, a large one (a basis of spatial modes: 60 MB)
    is scattered to every worker once, instead of travelling inside the graph through
    the scheduler (and making distributed warn of a large graph).
    """
    import dask.array as dska

    array = np.ascontiguousarray(array)
    client = cluster_client() if array.nbytes >= _SCATTER_BYTES else None
    if client is not None:
        future = client.scatter(array, broadcast=True, hash=True)
        return dska.from_delayed(future, array.shape, dtype=array.dtype)
    return dska.from_array(array, chunks=-1)


def _one(blocks) -> np.ndarray:
    """The array of a contracted blockwise index (a list of its blocks), without a copy.

    The voxel axis and the constants are single chunks: taking the one block
    avoids dask's ``concatenate=True``, which copies every chunk (10 MB each).
    """
    while isinstance(blocks, list):
        blocks = blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=-1)
    return blocks


def _run(block, *constants, kernel, mask, add, options):
    table = None if mask is None else kernels.decode_table(bool(mask))
    try:
        out = kernel(_one(block), table, *(_one(c) for c in constants), **options)
    finally:
        _drop_scratch()
    return out[None] if add else out


_LETTERS = "abcdfghijklmnopqrstuwxyz"  # "e" (experiments) and "v" (voxels) are taken
#: Rows (experiments) one task of the fused pass reads, chunk after chunk.
_TASK_ROWS = 256
#: Largest result of one task of the fused pass without ``add`` (bytes).
_TASK_BYTES = 16 * 2**20


def experiment_pass(
    matrix: ExpressionMatrix,
    kernel: Callable[..., np.ndarray],
    shape: tuple[int, ...],
    *constants: np.ndarray,
    add: bool = False,
    dtype: Any = np.float64,
    experiments_last: bool = False,
    **options: Any,
):
    """Run ``kernel`` on every chunk of experiments, lazily.

    Parameters
    ----------
    matrix : ExpressionMatrix
        From :func:`expression_matrix`.
    kernel : callable
        ``kernel(block, table, *constants, **options)``, a module-level function;
        ``block`` is one chunk ``(experiments, voxels)``, ``table`` the decode
        table or None. It returns ``(experiments, *shape)``, or ``shape`` with
        ``add=True``. A kernel with an ``out`` argument is given, on a file's fused
        pass, the task's result to fill (its rows of this chunk) or to add into, and
        makes no array of its own.
    shape : tuple of int
        Shape of the kernel's result per experiment (or per chunk with ``add``).
    *constants : numpy.ndarray
        Arrays every task needs (voxel orders, segment bounds): one graph key each.
    add : bool, default False
        Sum the chunks' results (a tree reduction) instead of keeping one row per
        experiment.
    dtype : numpy dtype, default float64
        Of the kernel's result.
    experiments_last : bool, default False
        Without ``add``: give ``(*shape, experiment)`` instead, each task's block the
        transposed view of its rows (no transpose task after the pass).
    **options
        Passed to the kernel (small values: they are copied into every task).

    Returns
    -------
    dask.array.Array
        ``(experiment, *shape)`` (``(*shape, experiment)`` with ``experiments_last``),
        chunked as the experiments, or ``shape`` with ``add=True``. With no
        experiment: zeros of that shape.
    """
    import dask.array as dska

    last = experiments_last and not add
    if matrix.n_experiments == 0:
        empty = np.zeros(tuple(shape) if add else (0, *shape), dtype=dtype)
        empty = np.moveaxis(empty, 0, -1) if last else empty
        return dska.from_array(empty, chunks=-1)
    if matrix.source is not None:
        out = _fused_pass(matrix, kernel, tuple(shape), constants, add, dtype, options, last)
        return out.sum(axis=0, split_every=8) if add else out
    letters = iter(_LETTERS)
    new = "".join(next(letters) for _ in shape)
    args: list[Any] = [matrix.data, "ev"]
    for c in constants:
        args += [_constant(c), "".join(next(letters) for _ in range(np.ndim(c)))]
    out = dska.blockwise(
        _run,
        "e" + new,
        *args,
        new_axes=dict(zip(new, shape, strict=True)),
        adjust_chunks={"e": 1} if add else None,
        concatenate=False,
        dtype=dtype,
        meta=np.empty((0,) * (len(shape) + 1), dtype=dtype),
        kernel=kernel,
        mask=matrix.mask,
        add=add,
        options=options,
    )
    if last:
        return dska.moveaxis(out, 0, -1)
    return out.sum(axis=0, split_every=8) if add else out


def _task_groups(starts: tuple[int, ...], rows: int) -> list[tuple[tuple[int, int], ...]]:
    """Consecutive read chunks ``(start, stop)`` grouped into tasks of about ``rows`` rows."""
    groups: list[tuple[tuple[int, int], ...]] = []
    current: list[tuple[int, int]] = []
    for a, b in itertools.pairwise(starts):
        if current and b - current[0][0] > rows:
            groups.append(tuple(current))
            current = []
        current.append((a, b))
    if current:
        groups.append(tuple(current))
    return groups


_BUFFERS = threading.local()


def scratch(name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """This thread's reusable array ``name``, C-contiguous, of ``shape`` (contents undefined).

    A kernel's large temporaries (a chunk's decoded values, its mask) are kept from
    chunk to chunk of one task (freed at its end) instead of made anew: a
    ``dask.distributed`` worker (started with ``MALLOC_TRIM_THRESHOLD_``) maps and
    zero-fills fresh pages for every new large array, which made such kernels a third
    slower there than threaded. A kernel must not return a scratch array or a view of
    it: the next chunk overwrites it.
    """
    size = int(np.prod(shape, dtype=np.int64))
    arrays = getattr(_BUFFERS, "arrays", None)
    if arrays is None:
        arrays = _BUFFERS.arrays = {}
    buffer = arrays.get(name)
    if buffer is None or buffer.dtype != np.dtype(dtype) or buffer.size < size:
        buffer = arrays[name] = np.empty(size, dtype=dtype)
    return buffer[:size].reshape(shape)


def _drop_scratch() -> None:
    """Free this thread's scratch arrays but the read buffer (at the end of every task).

    They serve the chunks of one task; kept longer, every thread of a many-core
    machine would hold tens of MB between analyses.
    """
    arrays = getattr(_BUFFERS, "arrays", None)
    if arrays:
        for name in [n for n in arrays if n != "read"]:
            del arrays[name]


def _read_buffer(size: int, dtype) -> np.ndarray:
    """This thread's read buffer of the fused pass (kept: a chunk of rows, about 10 MB).

    Kernels must not return their block or a view of it: the next chunk overwrites it.
    """
    return scratch("read", (size,), dtype)


def _run_rows(source, ranges, *constants, kernel, mask, add, into, options, shape, dtype, last):
    """One task of the fused pass: read each chunk of rows, run the kernel, join or add.

    One read buffer per thread serves all the chunks, and a kernel that takes ``out``
    adds every chunk into the task's one total, or fills its rows of the task's one
    ``(rows, *shape)`` result: no new large array per chunk (a ``dask.distributed``
    worker's allocator maps and zero-fills fresh pages for each). With ``last``
    (experiments last) the task returns the transposed view.
    """
    from ..reader import read_rows

    table = None if mask is None else kernels.decode_table(bool(mask))
    constants = tuple(_one(c) for c in constants)
    first = ranges[0][0]
    longest = max(b - a for a, b in ranges)
    buffer = _read_buffer(longest * VOXELS_PER_VOLUME, source.dtype)
    filled = None
    if into and not add:
        filled = np.empty((ranges[-1][1] - first, *shape), dtype=dtype)
    outs = []
    total = None
    try:
        for a, b in ranges:
            block = read_rows(source, a, b, buffer)
            if filled is not None:
                kernel(block, table, *constants, out=filled[a - first : b - first], **options)
                continue
            if into and total is not None:
                kernel(block, table, *constants, out=total, **options)
                continue
            out = kernel(block, table, *constants, **options)
            if add:
                total = out if total is None else np.add(total, out, out=total)
            else:
                outs.append(out)
    finally:
        _drop_scratch()
    if add:
        return total[None]
    if filled is None:
        filled = outs[0] if len(outs) == 1 else np.concatenate(outs, axis=0)
    return np.moveaxis(filled, 0, -1) if last else filled


def _fused_pass(matrix, kernel, shape, constants, add, dtype, options, last=False):
    """The pass as one task per group of chunks, each reading its rows itself.

    Reading inside the kernel's task sends no chunk of data between tasks (or
    processes), and a group of chunks per task keeps the tasks few and each
    task's partial result one (added in the task when ``add``): on a
    ``dask.distributed`` cluster the scheduler's per-task cost and the transfer of
    partial sums between workers were most of the time.
    """
    import functools
    import inspect

    import dask.array as dska
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    into = "out" in inspect.signature(kernel).parameters
    per_row = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    rows = _TASK_ROWS if add else max(1, min(_TASK_ROWS, _TASK_BYTES // max(per_row, 1)))
    groups = _task_groups(matrix.starts, rows)
    consts = [_constant(c) for c in constants]
    keys = [(c.name, *(0,) * c.ndim) for c in consts]
    name = "agea-pass-" + tokenize(
        matrix.source.location,
        matrix.starts,
        kernel.__module__,
        kernel.__qualname__,
        [c.name for c in consts],
        matrix.mask,
        add,
        options,
        rows,
        last,
    )
    zeros = (0,) * len(shape)
    dsk = {}
    for i, ranges in enumerate(groups):
        task = functools.partial(
            _run_rows,
            matrix.source,
            ranges,
            kernel=kernel,
            mask=matrix.mask,
            add=add,
            into=into,
            options=options,
            shape=shape,
            dtype=np.dtype(dtype),
            last=last,
        )
        key = (name, *zeros, i) if last else (name, i, *zeros)
        dsk[key] = (task, *keys)
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=consts)
    sizes = tuple(1 if add else r[-1][1] - r[0][0] for r in groups)
    blocks = tuple((n,) for n in shape)
    chunks = (*blocks, sizes) if last else (sizes, *blocks)
    return dska.Array(graph, name, chunks, meta=np.empty((0,) * (len(shape) + 1), dtype=dtype))


def _sums_kernel(block, table, perm, bounds):
    return kernels.segment_sums(block, perm, bounds, table)


def _medians_kernel(block, table, perm, bounds):
    return kernels.segment_medians(block, perm, bounds, table)


def segment_sums(matrix: ExpressionMatrix, perm: np.ndarray, bounds: np.ndarray):
    """Lazy per-experiment count, sum and sum of squares of every segment, ``(E, 3, R)``.

    ``perm`` and ``bounds`` as :func:`agea_xr.kernels.segments` returns them;
    the three rows are :data:`agea_xr.kernels.SUM_FIELDS`.
    """
    n = bounds.size - 1
    return experiment_pass(matrix, _sums_kernel, (len(kernels.SUM_FIELDS), n), perm, bounds)


def segment_medians(matrix: ExpressionMatrix, perm: np.ndarray, bounds: np.ndarray):
    """Lazy per-experiment median of the measured values of every segment, ``(E, R)``."""
    return experiment_pass(matrix, _medians_kernel, (bounds.size - 1,), perm, bounds)


def group_sums(sums: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Add up rows of ``sums`` by group: ``out[g] = sums[codes == g].sum(0)``.

    Parameters
    ----------
    sums : numpy.ndarray
        ``(rows, ...)``.
    codes : numpy.ndarray
        Group of every row, ``0 .. n_groups - 1``.
    n_groups : int

    Returns
    -------
    numpy.ndarray
        float64 ``(n_groups, ...)``.
    """
    out = np.zeros((n_groups, *sums.shape[1:]), dtype=np.float64)
    np.add.at(out, codes, sums)
    return out
