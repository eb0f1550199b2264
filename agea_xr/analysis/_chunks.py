"""The single pass every analysis makes: a per-chunk kernel over all experiments.

:func:`expression_matrix` turns a dataset's ``expression`` into a lazy
``(experiment, voxel)`` matrix, chunked by experiments (one chunk of all
voxels): the raw float16 bits when the dataset is untouched (read by
:func:`agea_xr.reader.raw_bits`, decoded by a lookup table inside the
kernels), the decoded float values otherwise. :func:`experiment_pass` maps a
kernel over its chunks and either keeps one result per experiment or sums the
chunks' results; :func:`segment_sums` and :func:`segment_medians` are the two
passes the region-based analyses share.

Every kernel receives ``(block, table, *constants, **options)``: ``block`` the
chunk ``(experiments, voxels)``, ``table`` the float16 decode table (None when
``block`` holds floats, NaN = no measurement), and numpy constants that dask
holds as one graph key each (sent once to each ``dask.distributed`` worker,
not inside every task). Kernels must be module-level functions (picklable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from .. import kernels
from ..layout import AP, DIMS, DV, EXPERIMENT, ML

__all__ = [
    "ExpressionMatrix",
    "experiment_pass",
    "expression_matrix",
    "group_sums",
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
    """

    data: Any
    mask: bool | None

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
    from ..reader import raw_bits

    data = chunked(check_dataset(ds)).data
    if any(len(c) != 1 for c in data.chunks[1:]):
        data = data.rechunk({1: -1, 2: -1, 3: -1})
    raw_missing = ds.attrs.get("variant", "raw") == "raw"
    n_voxels = int(np.prod(data.shape[1:]))
    bits = raw_bits(data)
    if bits is not None:
        array, mask = bits
        return ExpressionMatrix(array, raw_missing if mask is None else mask)
    chunks = (data.chunks[0], (n_voxels,))
    if data.dtype == np.float16:
        array = data.map_blocks(
            _as_bits, n_voxels, chunks=chunks, drop_axis=(2, 3), dtype=np.uint16
        )
        return ExpressionMatrix(array, raw_missing)
    dtype = data.dtype if data.dtype.kind == "f" else np.dtype(np.float32)
    array = data.map_blocks(_as_float, n_voxels, chunks=chunks, drop_axis=(2, 3), dtype=dtype)
    return ExpressionMatrix(array, None)


def _constant(array: np.ndarray):
    """A small numpy array as a one-chunk dask array: one graph key every task depends on."""
    import dask.array as dska

    return dska.from_array(np.ascontiguousarray(array), chunks=-1)


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
    out = kernel(_one(block), table, *(_one(c) for c in constants), **options)
    return out[None] if add else out


_LETTERS = "abcdfghijklmnopqrstuwxyz"  # "e" (experiments) and "v" (voxels) are taken


def experiment_pass(
    matrix: ExpressionMatrix,
    kernel: Callable[..., np.ndarray],
    shape: tuple[int, ...],
    *constants: np.ndarray,
    add: bool = False,
    dtype: Any = np.float64,
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
        ``add=True``.
    shape : tuple of int
        Shape of the kernel's result per experiment (or per chunk with ``add``).
    *constants : numpy.ndarray
        Arrays every task needs (voxel orders, segment bounds): one graph key each.
    add : bool, default False
        Sum the chunks' results (a tree reduction) instead of keeping one row per
        experiment.
    dtype : numpy dtype, default float64
        Of the kernel's result.
    **options
        Passed to the kernel (small values: they are copied into every task).

    Returns
    -------
    dask.array.Array
        ``(experiment, *shape)``, chunked as the experiments, or ``shape`` with
        ``add=True``. With no experiment: zeros of that shape.
    """
    import dask.array as dska

    if matrix.n_experiments == 0:
        empty = np.zeros(tuple(shape) if add else (0, *shape), dtype=dtype)
        return dska.from_array(empty, chunks=-1)
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
    return out.sum(axis=0, split_every=8) if add else out


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
