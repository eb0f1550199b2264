"""Byte-range reads of ``.npy`` item volumes, and the lazily indexed array over them.

A volume file of the MERFISH or lipid release is a standard ``.npy`` file of
shape ``(items, 58, 41, 67)``, C order: item ``i`` is one contiguous run of
``159,326 * itemsize`` bytes after the header. :class:`ItemFile` parses the
header (:func:`agea_xr.volumes_layout.volume_header`, from the first bytes only),
then reads runs of items from a local file or any fsspec URL (one ranged
request per run), in the style of :class:`agea_xr.reader.ExperimentFile`.
:class:`ItemArray` exposes them to xarray as a lazily indexed ``BackendArray``,
in memory as float32 or wider (:func:`memory_dtype`: the stored float16 values,
exactly, widened per read, so that means, netCDF and Zarr behave as for the genes).

Nothing is ever unpickled: :func:`read_small_npy` reads label files with
``allow_pickle=False`` and refuses object arrays with a clear message.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

from .. import layout
from ..reader import RangeFile, row_buffer, runs
from ..remote import connection_errors, is_url, read_range
from ..volumes_layout import parse_header, volume_header

__all__ = ["ItemArray", "ItemFile", "memory_dtype", "parse_header", "read_small_npy"]

#: Bytes read first to parse a header (numpy pads headers to 64 bytes; 128 is usual).
_HEAD = 4096


def memory_dtype(stored: np.dtype) -> np.dtype:
    """The dtype a stored volume dtype is given as in memory.

    float16 becomes float32 (every float16 value is exact in float32): dask sums
    float16 in float16 (a mean overflows to inf) and netCDF has no float16. Other
    floats keep their size, in native byte order.

    Parameters
    ----------
    stored : numpy.dtype
        A floating dtype (:func:`agea_xr.volumes_layout.volume_header` checks it).

    Returns
    -------
    numpy.dtype

    Examples
    --------
    >>> memory_dtype(np.dtype("<f2")), memory_dtype(np.dtype(">f8"))
    (dtype('float32'), dtype('float64'))
    """
    if stored.itemsize < 4:
        return np.dtype(np.float32)
    return stored.newbyteorder("=")


def read_small_npy(data: bytes, where: str) -> np.ndarray:
    """A small ``.npy`` file (type ids) read with ``allow_pickle=False``.

    Parameters
    ----------
    data : bytes
        The whole file.
    where : str
        The file, named in messages.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ValueError
        For an object array (refused: it would need unpickling) or a damaged file.
    """
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise ValueError(
                f"{where!r} is an object array, which only unpickling could read; agea-xr "
                "never unpickles. The published file holds integer type ids: replace it "
                "with it (or re-save yours as integers: np.save(path, ids.astype('int64')))."
            ) from err
        raise ValueError(f"Cannot read {where!r} as a .npy array ({err}).") from err
    except (EOFError, OSError) as err:
        raise ValueError(
            f"Cannot read {where!r} as a .npy array ({err or 'it is empty'}): download it again."
        ) from err


class ItemFile(RangeFile):
    """A ``.npy`` volume file ``(items, ml, dv, ap)``, read by whole items.

    Parameters
    ----------
    location : str or os.PathLike
        Local path or fsspec URL of the file.
    storage_options : mapping, optional
        Passed to fsspec for URLs.

    Attributes
    ----------
    shape : tuple of int
        ``(items, 58, 41, 67)``.
    dtype : numpy.dtype
        The stored dtype.
    offset : int
        Byte offset of item 0 (the header length).

    Raises
    ------
    ValueError
        At construction, for a header that is not a C-order floating ``.npy`` array
        on the AGEA grid, or a file shorter than its header says.
    ConnectionError, PermissionError
        If a URL cannot be reached or read (the message names it).

    Notes
    -----
    Opening reads only the first 4 kB (the header) and the file's size; no open
    file or connection is kept, so the object pickles small.
    """

    def __init__(
        self, location: str | os.PathLike, storage_options: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(location, storage_options)
        head, size = self._head()
        shape, dtype, offset, expected = volume_header(head, self.location)
        self.shape, self.dtype, self.offset = shape, dtype, offset
        if size < expected:
            raise ValueError(
                f"{self.location!r} has {size:,} bytes, its header announces {shape[0]:,} "
                f"items needing {expected:,}: the download is incomplete. Download it again."
            )

    def __repr__(self) -> str:
        return f"ItemFile({self.location!r}, shape={self.shape}, dtype={self.dtype})"

    @property
    def item_bytes(self) -> int:
        """Bytes of one item volume (159,326 voxels times the itemsize)."""
        return layout.VOXELS_PER_VOLUME * self.dtype.itemsize

    def _head(self) -> tuple[bytes, int]:
        if not is_url(self.location):
            with open(self.location, "rb") as f:
                return f.read(_HEAD), os.fstat(f.fileno()).st_size
        fs, path = self._filesystem()
        with connection_errors(self.location, self.storage_options):
            size = int(fs.size(path))
        head = read_range(
            fs, path, 0, min(_HEAD, size), url=self.location, options=self.storage_options
        )
        return head, size

    def read(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Items ``start`` to ``stop`` (exclusive) as one byte range.

        ``out``, optional: a C-contiguous buffer of the stored dtype and
        ``(stop - start) * 159,326`` values to fill instead of a new array.

        Returns
        -------
        numpy.ndarray
            A new (or ``out``'s) array of the stored dtype, ``(stop - start, 58, 41, 67)``.

        Raises
        ------
        IndexError
            If the range lies outside the file.
        OSError
            If the file ends early.
        """
        n = self.shape[0]
        if not 0 <= start <= stop <= n:
            raise IndexError(f"Items {start}:{stop} are outside {self.location!r} ({n} items).")
        out = row_buffer(out, stop - start, self.dtype)
        return self.read_into(self.offset + start * self.item_bytes, out, f"items {start}:{stop}")


class ItemArray(BackendArray):
    """Lazily indexed ``(item, ml, dv, ap)`` values of an :class:`ItemFile`.

    Indexing reads only the items asked for, consecutive ones as one byte range,
    and gives the stored values as :func:`memory_dtype` (float16 widened to
    float32, exactly; native byte order), one cast per read.
    """

    def __init__(self, source: ItemFile) -> None:
        self.source = source
        self.shape = source.shape
        self.dtype = memory_dtype(source.dtype)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        values = indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER_1VECTOR, self._getitem
        )
        return np.asarray(values).astype(self.dtype, copy=False)

    def _getitem(self, key: tuple) -> np.ndarray:
        first, rest = key[0], tuple(key[1:])
        n = self.shape[0]
        if isinstance(first, slice):
            start, stop, step = first.indices(n)
            if step == 1:
                return self.source.read(start, max(start, stop))[(slice(None), *rest)]
            wanted = np.arange(start, stop, step)
        elif isinstance(first, (int, np.integer)):
            i = int(first) + n if first < 0 else int(first)
            return np.array(self.source.read(i, i + 1)[0][rest])
        else:
            wanted = np.asarray(first, dtype=np.int64)
            wanted = np.where(wanted < 0, wanted + n, wanted)
        unique, inverse = np.unique(wanted, return_inverse=True)
        parts = [self.source.read(a, b)[(slice(None), *rest)] for a, b in runs(unique)]
        if not parts:
            empty = np.empty((0, *layout.GRID_SHAPE), dtype=self.dtype)
            return empty[(slice(None), *rest)]
        return np.concatenate(parts, axis=0)[inverse.reshape(-1)]
