"""The netCDF writer of :func:`agea_xr.export`: lossless float32, CF attributes, closed on failure.

The dataset gets the CF attributes of :mod:`agea_xr.conventions` with a
``history`` entry and the encoding of :func:`agea_xr.encoding.netcdf_encoding`
(float32, zlib, one experiment per HDF5 chunk), and is written with xarray's
``netcdf4`` or ``h5netcdf`` engine.

A failed write never leaves a file open behind it: the writer opens xarray's
store itself and closes it whatever happens, before the caller removes the
file. With
``h5netcdf`` the file is written through :class:`_Sink`, a file object that
keeps the first write error (a full disk) to itself and lets HDF5 finish:
HDF5 2 cannot recover from a failed flush at close, and the next touch of the
file's objects (even their garbage collection) crashes the process. The error
is raised once the file is closed.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import xarray as xr

from ..dataset import CHUNK_EXPERIMENTS
from ..encoding import chunk_like_storage, netcdf_encoding, prepare_for_netcdf

__all__ = ["NETCDF_ENGINES", "write_netcdf"]

#: xarray engines that can write the netCDF export ("netcdf4": netCDF-C, the default).
NETCDF_ENGINES = ("netcdf4", "h5netcdf")


def write_netcdf(
    ds: xr.Dataset,
    tmp: Path,
    *,
    chunks: int,
    engine: str,
    history: str | None,
    run: Callable[[Any], None],
) -> None:
    """Write ``ds`` to the netCDF file ``tmp``; every file closed when this returns or raises.

    Parameters
    ----------
    ds : xarray.Dataset
        What to write (a subset, as :func:`agea_xr.export.subset` gives).
    tmp : pathlib.Path
        The file to create (the temporary of :func:`agea_xr._files.safe_write`).
    chunks : int
        Experiments per HDF5 chunk of the volumes.
    engine : {"netcdf4", "h5netcdf"}
    history : str or None
        What is written, for the ``history`` attribute.
    run : callable
        Computes the delayed write (progress bar, thread pool).

    Raises
    ------
    OSError
        A write error of the file (e.g. ``ENOSPC``), raised after closing it.
    RuntimeError
        netCDF-C's own errors (``NetCDF: HDF error`` for a full disk).
    """
    import dask
    from xarray.backends import H5NetCDFStore, NetCDF4DataStore
    from xarray.backends.common import ArrayWriter

    out = chunk_like_storage(prepare_for_netcdf(ds, history), max(chunks, CHUNK_EXPERIMENTS))
    encoding = netcdf_encoding(out, chunk_experiments=chunks)
    sink = _Sink(tmp) if engine == "h5netcdf" else None
    store: Any = None
    try:
        # the store is ours, so that it is closed whatever happens (xarray's
        # to_netcdf(compute=False) leaves it open when a chunk fails to write)
        if sink is not None:
            store = H5NetCDFStore.open(sink, mode="w")
        else:
            store = NetCDF4DataStore.open(os.fspath(tmp), mode="w", format="NETCDF4")
        writer = ArrayWriter()
        out.dump_to_store(store, writer=writer, encoding=encoding)
        writes = writer.sync(compute=False)  # None, a Delayed, or a tuple of them
        if writes is not None:
            run(dask.delayed(_written)(writes))
    except BaseException as err:
        _close(store, sink)
        if sink is not None and sink.error is not None:
            raise sink.error from err
        raise
    _close(store, sink, quiet=False)
    if sink is not None and sink.error is not None:
        raise sink.error


def _written(*writes: Any) -> None:
    """The one task that depends on every chunk write."""


def _close(store: Any, sink: _Sink | None, quiet: bool = True) -> None:
    """Close the store, then the sink (always); a failed close raises unless ``quiet``."""
    try:
        if store is not None:
            store.close()
    except Exception:
        if not quiet:
            raise
    finally:
        if sink is not None:
            sink.close()


class _Sink(io.RawIOBase):
    """A read-write file that keeps its first write error instead of raising it.

    After an error, writes only move the position (HDF5 sees success and closes
    its objects cleanly); :attr:`error` holds the error, with the file's name.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = open(path, "w+b")  # noqa: SIM115 - closed by close()
        self.error: OSError | None = None

    def _keep(self, err: OSError) -> None:
        if self.error is None:
            self.error = OSError(err.errno, err.strerror, str(self.path))

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.file.seek(offset, whence)

    def tell(self) -> int:
        return self.file.tell()

    def readinto(self, buffer: Any) -> int:
        return self.file.readinto(buffer)

    def write(self, data: Any) -> int:
        size = memoryview(data).nbytes
        if self.error is None:
            try:
                return self.file.write(data)
            except OSError as err:
                self._keep(err)
        self.file.seek(size, io.SEEK_CUR)
        return size

    def truncate(self, size: int | None = None) -> int:
        try:
            return self.file.truncate(size)
        except OSError as err:
            self._keep(err)
            return self.file.tell() if size is None else size

    def flush(self) -> None:
        if self.file.closed:
            return
        try:
            self.file.flush()
        except OSError as err:
            self._keep(err)

    def close(self) -> None:
        if not self.file.closed:
            try:
                self.file.close()
            except OSError as err:
                self._keep(err)
        super().close()
