"""The Zarr writer of :func:`agea_xr.export`: float32 or compact float16, chunked, sharded.

Expression volumes are stored as float32 (every reader decodes them to
float32), or as float16 when asked and exact (the values of the release are
float16; see :mod:`agea_xr.encoding` for why that is not the default);
Blosc-zstd, ``chunks`` experiments per chunk, ``shards``
experiments per shard (Zarr format 3), consolidated metadata so that plain
``xr.open_zarr`` opens the store in one read.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..conventions import update_attributes
from ..dataset import CHUNK_EXPERIMENTS
from ..encoding import chunk_like_storage, zarr_encoding
from ..gene_index import drop_gene_index
from ..layout import EXPERIMENT

__all__ = ["SHARD_EXPERIMENTS", "write_zarr", "zarr_format"]

#: Default experiments per Zarr shard (Zarr format 3): one shard per dask chunk
#: of :func:`agea_xr.open_dataset`, so 136 objects for the 4,345 experiments
#: instead of 4,345, with each experiment still readable alone.
SHARD_EXPERIMENTS = CHUNK_EXPERIMENTS


def zarr_format() -> int:
    """The Zarr format the installed zarr-python writes: 3 for zarr>=3, else 2."""
    import zarr

    return 3 if int(zarr.__version__.split(".")[0]) >= 3 else 2


def _exact_float16(block: np.ndarray) -> np.ndarray:
    """Cast to float16, refusing any value float16 does not hold exactly."""
    out = block.astype(np.float16)
    with np.errstate(invalid="ignore", over="ignore"):
        same = (out.astype(block.dtype) == block) | np.isnan(block)
    if not same.all():
        bad = block[~same].reshape(-1)[:3]
        raise ValueError(
            f"Values such as {bad.tolist()} are not exact in float16, so the compact Zarr "
            "form would change them: export with dtype='float32'."
        )
    return out


def write_zarr(
    ds: xr.Dataset,
    tmp: Path,
    *,
    chunks: int,
    shards: int | None,
    dtype: np.dtype,
    history: str | None,
    run: Callable[[Any], None],
) -> None:
    """Write ``ds`` to the Zarr store ``tmp``.

    Parameters
    ----------
    ds : xarray.Dataset
        What to write (a subset, as :func:`agea_xr.export.subset` gives).
    tmp : pathlib.Path
        The store to create (the temporary of :func:`agea_xr._files.safe_write`).
    chunks : int
        Experiments per Zarr chunk of the volumes.
    shards : int or None
        Experiments per shard (Zarr format 3 only; ignored for format 2).
    dtype : numpy.dtype
        On-disk type of the volumes (float16 or float32).
    history : str or None
        What is written, for the ``history`` attribute.
    run : callable
        Computes the delayed write (progress bar, thread pool).

    Raises
    ------
    ValueError
        For values not exact in float16 when ``dtype`` is float16, or shards that
        are not a multiple of the chunks.
    OSError
        A write error of the store (e.g. ``ENOSPC``).
    """
    fmt = zarr_format()
    if fmt != 3:
        shards = None
    n = ds.sizes.get(EXPERIMENT, 0)
    if shards is not None and n <= chunks:
        shards = None
    step = shards if shards is not None else chunks * max(1, CHUNK_EXPERIMENTS // chunks)
    out = chunk_like_storage(update_attributes(ds, history=history), step)
    out = drop_gene_index(out)
    if dtype == np.float16:
        for name, var in ds.data_vars.items():
            if var.dims[:1] == (EXPERIMENT,) and var.dtype.kind == "f" and var.dtype != dtype:
                variable = out[name].variable
                out[name] = variable.copy(
                    data=variable.data.map_blocks(_exact_float16, dtype=np.float16)
                )
    encoding = zarr_encoding(
        out,
        dtype=dtype,
        chunk_experiments=chunks,
        shard_experiments=shards,
        zarr_format=fmt,
    )
    with warnings.catch_warnings():
        # consolidated metadata lets xr.open_zarr open the store in one read,
        # without warning; zarr 3 flags it as not (yet) in its specification
        warnings.filterwarnings("ignore", "Consolidated metadata", UserWarning)
        delayed = out.to_zarr(
            tmp,
            mode="w-",
            encoding=encoding,
            compute=False,
            consolidated=True,
            zarr_format=fmt,
        )
        run(delayed)
