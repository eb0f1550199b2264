"""Byte-range reads of whole experiments, and the lazily indexed array over them.

One experiment volume is one contiguous run of ``VOLUME_BYTES`` bytes at
``i * VOLUME_BYTES``; ``k`` consecutive experiments are one contiguous range.
:class:`ExperimentFile` reads such ranges from a local file (``os.pread``, no
memmap) or from any fsspec URL (one ranged request per run), and
:class:`ExpressionArray` exposes them to xarray as a lazily indexed
``BackendArray``. Both hold only a location and a few numbers, so a dataset
built on them pickles in a few kilobytes and every dask worker opens its own
file or connection.

The reader also owns the **raw-bits fast path** of the analyses:
:func:`backend_array` finds the :class:`ExpressionArray` (or an item volume's
array) under the dask array that ``open_dataset`` built, and :func:`raw_bits`
reads the same chunks of experiments again as undecoded float16 bits
(:func:`read_rows`), which the kernels decode through a lookup table inside
their reduction; the analyses' pass reads them inside its own tasks. For arrays that
live in memory or in a ``numpy.memmap`` (``wrap_volume``, the iblatlas
hand-over), :func:`lazy_rows` gives the same chunks of experiments without
copying the whole array first.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

from . import kernels
from .layout import GRID_SHAPE, RAW_DTYPE, VOLUME_BYTES, VOXELS_PER_VOLUME
from .remote import is_url, read_range

__all__ = [
    "ExperimentFile",
    "ExpressionArray",
    "RangeFile",
    "backend_array",
    "lazy_rows",
    "raw_bits",
    "read_bits",
    "read_rows",
    "row_buffer",
    "row_starts",
    "runs",
]


def runs(indices: np.ndarray) -> Iterator[tuple[int, int]]:
    """Split sorted, unique integer indices into runs of consecutive values.

    Parameters
    ----------
    indices : numpy.ndarray
        Sorted unique non-negative integers.

    Yields
    ------
    tuple of int
        ``(start, stop)`` of each run, ``stop`` exclusive.

    Examples
    --------
    >>> list(runs(np.array([0, 1, 2, 5, 7, 8])))
    [(0, 3), (5, 6), (7, 9)]
    """
    if indices.size == 0:
        return
    breaks = np.flatnonzero(np.diff(indices) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [indices.size]])
    for a, b in zip(starts, stops, strict=True):
        yield int(indices[a]), int(indices[b - 1]) + 1


class RangeFile:
    """A local file or fsspec URL read by byte ranges: the one owner of those reads.

    Keeps only a location and options: no open file between reads of a local file,
    and an fsspec filesystem opened lazily in each process, so subclasses pickle
    small and every dask worker opens its own file or connection.

    Parameters
    ----------
    location : str or os.PathLike
        Local path or fsspec URL.
    storage_options : mapping, optional
        Passed to ``fsspec.filesystem`` for URLs.
    """

    def __init__(
        self, location: str | os.PathLike, storage_options: Mapping[str, Any] | None = None
    ) -> None:
        self.location = str(location)
        self.storage_options = dict(storage_options or {})
        self._fs = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_fs"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _filesystem(self):
        with self._lock:
            if self._fs is None:
                from .remote import filesystem

                fs, path = filesystem(self.location, self.storage_options)
                self._fs, self._path = fs, path
        return self._fs, self._path

    def read_into(self, offset: int, out: np.ndarray, what: str) -> np.ndarray:
        """Fill the C-contiguous ``out`` with the bytes from ``offset`` on; return it.

        One ranged request for a URL (a server that ignores ranges is named as such
        by :func:`agea_xr.remote.read_range`), ``readinto`` for a local file.

        Raises
        ------
        OSError
            If the file ends before ``out`` is full (``what`` names the range).
        """
        buffer = out.reshape(-1).view(np.uint8)
        length = buffer.size
        if length == 0:
            return out
        if is_url(self.location):
            fs, path = self._filesystem()
            data = read_range(
                fs, path, offset, offset + length, url=self.location, options=self.storage_options
            )
            got = len(data)
            if got == length:
                buffer[:] = np.frombuffer(data, dtype=np.uint8)
        else:
            got = 0
            with open(self.location, "rb", buffering=0) as f:
                f.seek(offset)
                while got < length:
                    n = f.readinto(memoryview(buffer)[got:])
                    if not n:
                        break
                    got += n
        if got != length:
            raise OSError(
                f"{self.location!r} ended early: {what} need bytes {offset}..{offset + length}, "
                f"but only {got} of {length} bytes were read. The file is truncated or was "
                "changed after opening; download it again."
            )
        return out


def row_buffer(out: np.ndarray | None, rows: int, dtype) -> np.ndarray:
    """``out`` as ``(rows, ml, dv, ap)`` of ``dtype`` (checked), or a new such array."""
    if out is None:
        return np.empty((rows, *GRID_SHAPE), dtype=dtype)
    size = rows * VOXELS_PER_VOLUME
    if out.dtype != dtype or out.size != size or not out.flags.c_contiguous:
        raise ValueError(
            f"out must be a C-contiguous {np.dtype(dtype)} array of {size} values, "
            f"got {out.dtype} {out.shape}."
        )
    return out.reshape(rows, *GRID_SHAPE)


class ExperimentFile(RangeFile):
    """A raw AGEA binary, read by whole experiments.

    Parameters
    ----------
    location : str or os.PathLike
        Local path or fsspec URL of the binary (``gene-expression.bin``).
    n_experiments : int
        Number of volumes in the file (rows of the table).
    storage_options : mapping, optional
        Passed to ``fsspec.filesystem`` for URLs.

    Notes
    -----
    The object keeps no open file between reads of a local file, and opens its
    fsspec filesystem lazily in each process, so it pickles small.
    """

    #: dtype of what :meth:`read` returns (the stored values).
    dtype = RAW_DTYPE

    def __init__(
        self,
        location: str | os.PathLike,
        n_experiments: int,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(location, storage_options)
        self.n_experiments = int(n_experiments)

    def __repr__(self) -> str:
        return f"ExperimentFile({self.location!r}, n_experiments={self.n_experiments})"

    @property
    def nbytes(self) -> int:
        """Expected size of the file in bytes."""
        return self.n_experiments * VOLUME_BYTES

    def read(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Read experiments ``start`` to ``stop`` (exclusive) as one byte range.

        Parameters
        ----------
        start, stop : int
            Experiment positions, ``0 <= start <= stop <= n_experiments``.
        out : numpy.ndarray, optional
            A C-contiguous float16 buffer of ``(stop - start) * 159,326`` values to
            fill (reused between reads: no new memory per read).

        Returns
        -------
        numpy.ndarray
            A new (or ``out``'s), writable float16 array of shape ``(stop - start, 58, 41, 67)``.

        Raises
        ------
        IndexError
            If the range lies outside the file.
        OSError
            If the file holds fewer bytes than the range needs.
        """
        if not 0 <= start <= stop <= self.n_experiments:
            raise IndexError(
                f"Experiments {start}:{stop} are outside {self.location!r}, which holds "
                f"{self.n_experiments} experiments."
            )
        out = row_buffer(out, stop - start, RAW_DTYPE)
        return self.read_into(start * VOLUME_BYTES, out, f"experiments {start}:{stop}")


class ExpressionArray(BackendArray):
    """Lazily indexed ``(experiment, ml, dv, ap)`` expression values.

    Indexing reads only the experiments asked for, grouping consecutive ones
    into single byte ranges, then decodes float16 to float32 (NaN for ``-1``
    when ``mask``), or returns the raw float16 values when ``decode`` is False.

    Parameters
    ----------
    source : ExperimentFile
        Where the bytes are.
    decode : bool, default True
        Return float32 (True) or the stored float16 values (False).
    mask : bool, default True
        With ``decode``, replace ``-1`` by NaN.
    """

    def __init__(self, source: ExperimentFile, decode: bool = True, mask: bool = True) -> None:
        self.source = source
        self.decode = bool(decode)
        self.mask = bool(mask) and self.decode
        self.shape = (source.n_experiments, *GRID_SHAPE)
        self.dtype = np.dtype(np.float32) if self.decode else RAW_DTYPE

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER_1VECTOR, self._getitem
        )

    def _getitem(self, key: tuple) -> np.ndarray:
        first, rest = key[0], tuple(key[1:])
        n = self.shape[0]
        if isinstance(first, slice):
            start, stop, step = first.indices(n)
            if step == 1:
                block = self.source.read(start, max(start, stop))
                return self._finish(block[(slice(None), *rest)])
            wanted = np.arange(start, stop, step)
        elif isinstance(first, (int, np.integer)):
            i = int(first) + n if first < 0 else int(first)
            block = self.source.read(i, i + 1)[0]
            return self._finish(block[rest])
        else:
            wanted = np.asarray(first, dtype=np.int64)
            wanted = np.where(wanted < 0, wanted + n, wanted)
        unique, inverse = np.unique(wanted, return_inverse=True)
        parts = [self.source.read(a, b)[(slice(None), *rest)] for a, b in runs(unique)]
        if parts:
            block = np.concatenate(parts, axis=0)
        else:
            block = np.empty((0, *GRID_SHAPE), dtype=RAW_DTYPE)[(slice(None), *rest)]
        return self._finish(block[inverse.reshape(-1)])

    def _finish(self, raw: np.ndarray) -> np.ndarray:
        if self.decode:
            return kernels.decode(raw, mask=self.mask)
        return np.array(raw, order="C")  # an owned copy, 0-d stays 0-d


# --- the raw-bits fast path of the analyses -------------------------------------------
def backend_array(data) -> BackendArray | None:
    """The backend array of whole rows under an untouched dask array, or None.

    True when ``data`` is exactly what ``open_dataset`` (or ``open_cell_types``,
    ``open_lipids``) built: one read per chunk of whole rows, nothing applied
    after it (no selection, arithmetic or rechunking). The backend array is an
    :class:`ExpressionArray`, or any ``BackendArray`` whose ``source`` is a
    :class:`RangeFile` that reads rows (``source.read(start, stop)``, stored
    ``source.dtype``), as the item volumes' arrays. Anything else returns None,
    and callers use the decoded values.

    Parameters
    ----------
    data : dask.array.Array
        The variable's data, dims ``(row, ml, dv, ap)``.

    Returns
    -------
    BackendArray or None
        The backend array, only when it has the shape of ``data``.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> backend_array(ds["expression"].data).shape
    (2, 58, 41, 67)
    >>> backend_array((ds["expression"] * 1).data) is None
    True
    """
    graph = getattr(data, "__dask_graph__", None)
    layers = getattr(graph(), "layers", None) if graph is not None else None
    if layers is None or len(layers) != 2:
        return None
    original = layers.get("original-" + str(data.name))
    if original is None or len(original) != 1:
        return None
    obj = next(iter(dict(original).values()))
    wrappers = tuple(
        getattr(indexing, name)
        for name in ("ImplicitToExplicitIndexingAdapter", "CopyOnWriteArray", "MemoryCachedArray")
        if hasattr(indexing, name)
    )
    for _ in range(8):
        if _reads_rows(obj):
            return obj if obj.shape == data.shape else None
        if isinstance(obj, indexing.LazilyIndexedArray):
            if any(not isinstance(k, slice) or k != slice(None) for k in obj.key.tuple):
                return None
        elif not isinstance(obj, wrappers):
            return None
        obj = getattr(obj, "array", None)
    return None


def _reads_rows(obj) -> bool:
    """An :class:`ExpressionArray`, or a backend array over a :class:`RangeFile` of rows."""
    if isinstance(obj, ExpressionArray):
        return True
    source = getattr(obj, "source", None)
    return (
        isinstance(obj, BackendArray)
        and isinstance(source, RangeFile)
        and callable(getattr(source, "read", None))
        and getattr(source, "dtype", None) is not None
    )


def read_rows(
    source: RangeFile, start: int, stop: int, buffer: np.ndarray | None = None
) -> np.ndarray:
    """Rows ``start:stop`` of a backend's file as ``(rows, voxels)``, float16 as uint16 bits.

    Parameters
    ----------
    source : RangeFile
        An :class:`ExperimentFile` or another file of rows with ``read(start, stop)``.
    start, stop : int
        Rows, ``stop`` exclusive.
    buffer : numpy.ndarray, optional
        C-contiguous, of the stored dtype, at least ``stop - start`` rows: read into
        its first rows (no new memory per read; a ``dask.distributed`` worker's
        allocator gives every new large array fresh pages).

    Returns
    -------
    numpy.ndarray
        The stored values, one row per line: float16 viewed as ``uint16`` (the bits the
        kernels decode through a table), other dtypes as stored.
    """
    if buffer is not None:
        buffer = buffer.reshape(-1)[: (stop - start) * VOXELS_PER_VOLUME]
    block = source.read(start, stop, out=buffer)
    block = block.reshape(block.shape[0], -1)
    return block.view(np.uint16) if block.dtype == RAW_DTYPE else block


def read_bits(source: ExperimentFile, starts: tuple[int, ...], block_id=None) -> np.ndarray:
    """One chunk of experiments as raw float16 bits (a ``map_blocks`` function).

    Parameters
    ----------
    source : ExperimentFile
        Where the bytes are (or another float16 file of rows, see :func:`read_rows`).
    starts : tuple of int
        First experiment of every chunk, then the total (``len(chunks) + 1`` values).
    block_id : tuple of int
        Given by ``dask.array.map_blocks``: ``block_id[0]`` is the chunk.

    Returns
    -------
    numpy.ndarray
        uint16 ``(experiments, voxels)``: the stored float16 values' bits, undecoded.
    """
    i = block_id[0]
    return read_rows(source, starts[i], starts[i + 1])


def row_starts(data) -> tuple[int, ...]:
    """First row of every chunk of ``data`` along axis 0, then the total."""
    return tuple(int(s) for s in np.concatenate([[0], np.cumsum(data.chunks[0])]))


def raw_bits(data) -> tuple[Any, bool | None] | None:
    """The raw float16 bits of an untouched expression array, as a lazy ``(experiment, voxel)``.

    Parameters
    ----------
    data : dask.array.Array
        The ``expression`` variable's data, dims ``(experiment, ml, dv, ap)``, as
        ``open_dataset`` built it (or a float16 item variable, as
        ``open_cell_types`` built it).

    Returns
    -------
    tuple or None
        ``(bits, mask)``: a uint16 dask array with the chunks of ``data`` along
        experiments and one chunk of all voxels (ml, dv, ap order), and the
        backend's ``mask`` switch when it decodes (True: ``-1`` is "no
        measurement"), or None when it returns the stored float16 undecoded
        (then the variant decides what ``-1`` means, which the caller knows).
        None instead of the tuple when ``data`` is not an untouched backend read
        (see :func:`backend_array`) of float16 values.

    Examples
    --------
    >>> import agea_xr
    >>> bits, mask = raw_bits(agea_xr.open_sample()["expression"].data)
    >>> bits.shape, bits.dtype.name, mask
    ((2, 159326), 'uint16', True)
    """
    import dask.array as dska

    backend = backend_array(data)
    if backend is None or backend.source.dtype != RAW_DTYPE:
        return None
    n_voxels = int(np.prod(data.shape[1:]))
    bits = dska.map_blocks(
        read_bits,
        chunks=(data.chunks[0], (n_voxels,)),
        dtype=np.uint16,
        meta=np.empty((0, 0), dtype=np.uint16),
        name=f"agea-bits-{data.name}",
        source=backend.source,
        starts=row_starts(data),
    )
    decodes = getattr(backend, "decode", False)
    return bits, (backend.mask if decodes else None)


class _Rows:
    """Read-only slicing of a numpy array without a ``copy`` method.

    ``dask.array.from_array`` copies whatever has one (a ``numpy.memmap`` of the
    whole atlas: 1.4 GB into memory); through this wrapper every chunk is sliced
    when its task runs.
    """

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.shape = array.shape
        self.dtype = array.dtype
        self.ndim = array.ndim

    def __getitem__(self, key) -> np.ndarray:
        return np.array(self.array[key])

    def __reduce__(self):
        array = self.array
        base = array if isinstance(array, np.memmap) else None
        if base is not None and base.filename and array.flags.c_contiguous:
            return _reopen, (base.filename, base.dtype.str, base.offset, base.shape)
        return _Rows, (np.asarray(array),)


def _reopen(filename: str, dtype: str, offset: int, shape: tuple[int, ...]) -> _Rows:
    return _Rows(np.memmap(filename, dtype=dtype, mode="r", offset=offset, shape=shape))


def lazy_rows(array: np.ndarray, rows: int):
    """A numpy array (or memmap) as a dask array in chunks of ``rows`` along its first axis.

    Unlike ``dask.array.from_array`` (and xarray's ``.chunk()``, which calls it),
    the array is neither copied nor hashed first: each chunk is sliced when its
    task runs, so memory stays bounded by a few chunks for a memmap of any size.
    A ``numpy.memmap`` pickles as its file name, so ``dask.distributed`` workers
    reopen the file instead of receiving its bytes.

    Parameters
    ----------
    array : numpy.ndarray
        Any shape; typically ``(experiment, ml, dv, ap)``.
    rows : int
        Rows (experiments) per chunk; the other axes are single chunks.

    Returns
    -------
    dask.array.Array
        Same shape and dtype; a fresh graph name on every call.

    Examples
    --------
    >>> lazy_rows(np.zeros((5, 2, 3)), 2).chunks
    ((2, 2, 1), (2,), (3,))
    """
    import uuid

    import dask.array as dska

    chunks = (int(rows), *(-1,) * (array.ndim - 1))
    return dska.from_array(
        _Rows(array), chunks=chunks, asarray=False, name=f"agea-rows-{uuid.uuid4().hex}"
    )
