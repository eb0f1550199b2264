"""The front doors: open a release, the bundled sample, or an export.

:func:`open_dataset` finds the data (a folder, an fsspec URL, or the local
cache, filled on first use) and opens it through xarray's entry point with the
``agea`` engine (:mod:`agea_xr.backend`), so ``chunks`` means exactly what it
means in :func:`xarray.open_dataset`.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from .conventions import restore_attributes
from .dataset import CHUNK_EXPERIMENTS, EXPERIMENT_CHUNKS
from .formats import DATASET_FORMATS, format_of
from .gene_index import set_gene_index
from .layout import EXPERIMENT
from .remote import is_url
from .sample import sample_path
from .stacks import with_object_names
from .volumes_layout import CELL_TYPE, LEVELS

__all__ = ["open_dataset", "open_export", "open_sample"]


def open_dataset(
    source: str | os.PathLike | None = None,
    *,
    variant: str = "raw",
    chunks: Any = EXPERIMENT_CHUNKS,
    mask_and_scale: bool = True,
    storage_options: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Open the Allen Gene Expression Atlas as a lazy, labelled xarray Dataset.

    Parameters
    ----------
    source : str, os.PathLike or None, optional
        A folder in the IBL layout (``gene-expression.bin``, ``gene-expression.pqt``,
        optionally ``label.npy`` and ``image.npy``), an fsspec URL of one
        (``s3://ibl-brain-wide-map-public/atlas/agea``, read by byte ranges, no
        download), or None for the local cache, which is filled from the official
        bucket first if it is empty (see :func:`agea_xr.download`; set
        ``AGEA_XR_OFFLINE=1`` to never download).
    variant : {"raw", "processed"}, default "raw"
        The Allen volumes, or IBL's processed (merged, imputed) volumes.
    chunks : dict, int, "auto" or None, default: experiment-aligned chunks
        As for :func:`xarray.open_dataset`. The default, like ``{}``, gives dask
        chunks of 32 whole experiments; None gives lazily indexed numpy-backed
        variables (a ``.sel`` reads only the bytes it needs).
    mask_and_scale : bool, default True
        Decode ``expression`` to float32 with NaN where the raw value is ``-1``
        (processed: float32, nothing masked). False returns the stored float16, as
        ``xr.open_dataset(..., mask_and_scale=False)`` (or ``decode_cf=False``) does.
    storage_options : mapping, optional
        fsspec options for URLs (``anon``, ``endpoint_url``, ...; the IBL bucket is
        read anonymously by default). With ``source=None``, options of the download.

    Returns
    -------
    xarray.Dataset
        ``expression`` (experiment, ml, dv, ap); ``label`` and ``image`` (ml, dv, ap)
        when present; coordinates ``experiment`` (Allen id), ``gene`` (indexed:
        ``.sel(gene="Pdyn")`` gives every experiment of Pdyn), ``ml``, ``dv``, ``ap``
        in metres from bregma.

    Raises
    ------
    FileNotFoundError
        If the folder or one of its required files is missing.
    ValueError
        If a file is damaged or inconsistent (wrong size, unreadable table, wrong
        label shape) or ``variant`` is unknown.
    ConnectionError
        If a URL's endpoint cannot be reached (raised within seconds).

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> ds.expression.sel(gene="Pdyn").sizes["experiment"]
    1
    >>> float(ds.expression.sel(gene="Pdyn").max()) > 0
    True
    """
    network: Any = contextlib.nullcontext()
    if source is None:
        from .fetch import ensure

        # the local cache; storage_options only serve the download, if one is needed
        source = ensure(variant=variant, storage_options=storage_options)
        storage_options = None
    elif is_url(source):
        from .remote import connection_errors, probe, storage_options_for

        # anonymous for the IBL bucket, short timeouts: unreachable -> clear error quickly
        storage_options = storage_options_for(source, storage_options)
        probe(source, storage_options)
        network = connection_errors(source, storage_options)
    from .backend import AgeaBackendEntrypoint

    if isinstance(chunks, MappingProxyType):
        chunks = dict(chunks)
    with network, warnings.catch_warnings():
        # xarray warns when asked chunks split the preferred ones; any whole number of
        # experiments is one contiguous byte range here, so no chunking degrades reads.
        warnings.filterwarnings("ignore", "The specified chunks separate", UserWarning)
        return xr.open_dataset(
            source if is_url(source) else os.fspath(source),
            engine=AgeaBackendEntrypoint,
            chunks=chunks,
            variant=variant,
            mask_and_scale=mask_and_scale,
            storage_options=storage_options,
        )


def open_sample(**kwargs: Any) -> xr.Dataset:
    """Open the bundled real Allen sample (Pdyn and Nrp1), offline.

    Parameters
    ----------
    **kwargs
        Passed to :func:`agea_xr.open_dataset` (``chunks``, ``mask``).

    Returns
    -------
    xarray.Dataset
        Two experiments, the grid coordinates and the region ``label`` volume.

    Examples
    --------
    >>> ds = open_sample()
    >>> list(ds.gene.values)
    ['Pdyn', 'Nrp1']
    """
    variant = kwargs.get("variant", "raw")
    if variant != "raw":
        raise ValueError(
            f"The bundled sample has only the 'raw' variant (the Allen volumes), not "
            f"{variant!r}: open it without variant=, or open a downloaded release "
            "(agea_xr.download(variant='processed')) for IBL's processed volumes."
        )
    return open_dataset(sample_path(), **kwargs)


# --- exports, read back ---------------------------------------------------------------
def open_export(
    path: str | os.PathLike,
    *,
    chunks: Any = EXPERIMENT_CHUNKS,
    storage_options: Mapping[str, Any] | None = None,
    engine: str | None = None,
    mask_and_scale: bool = True,
) -> xr.Dataset:
    """Open a netCDF or Zarr export lazily, as :func:`agea_xr.open_dataset` would.

    Plain ``xr.open_dataset(path)`` (netCDF) or ``xr.open_zarr(path)`` work too,
    and ``.agea`` works on their result; this also sets the gene index (so that
    ``.sel(gene="Pdyn")`` gives every experiment of Pdyn), picks experiment-
    aligned dask chunks and reads fsspec URLs.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.nc`` file or ``.zarr`` store: local path or fsspec URL
        (``s3://...``, ``file://...``, ``memory://...``).
    chunks : dict, int, "auto" or None, default: experiment-aligned chunks
        As for :func:`xarray.open_dataset`; the default gives dask chunks of at
        least 32 whole experiments, aligned with the stored chunks; None gives
        lazily indexed numpy-backed variables.
    storage_options : mapping, optional
        fsspec options for URLs.
    engine : str, optional
        xarray engine; default ``"zarr"`` for ``.zarr``, else ``"netcdf4"`` for
        local files and ``"h5netcdf"`` for URLs.
    mask_and_scale : bool, default True
        As in :func:`xarray.open_dataset`: decode the volumes to float32 with NaN
        for missing values, as :func:`agea_xr.open_dataset` does (the compact
        Zarr form stores float16 with ``scale_factor`` 1.0). False gives the
        stored values: float16 for the compact Zarr form, float32 for netCDF.

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    FileNotFoundError
        If a local ``path`` does not exist.
    ValueError
        If the suffix names no export format.

    Examples
    --------
    >>> import tempfile, pathlib, agea_xr
    >>> path = agea_xr.export(agea_xr.open_sample(), pathlib.Path(tempfile.mkdtemp()) / "s.zarr")
    >>> back = open_export(path)
    >>> back.expression.dtype, back.expression.sel(gene="Nrp1").sizes["experiment"]
    (dtype('float32'), 1)
    """
    fmt = format_of(path, "zarr" if engine == "zarr" else None)
    if fmt not in DATASET_FORMATS:
        raise ValueError(
            f"{str(path)!r} is a {fmt} export, a volume for viewers, not a dataset: "
            "open_export opens netCDF and Zarr exports. Read it with its own library "
            "(ome-zarr, nibabel, pynrrd) or a viewer (see 'Viewing in other tools')."
        )
    url = is_url(path)
    if not url and not os.path.exists(path):
        raise FileNotFoundError(f"No export at {str(path)!r}: check the path.")
    # Chunk mappings (and the default) are applied after opening, to the volumes only:
    # xarray would also cut the string coordinates along experiment, and warn.
    by_mapping = isinstance(chunks, Mapping)
    if not isinstance(mask_and_scale, (bool, np.bool_)):
        raise TypeError(
            f"mask_and_scale must be True or False, not {mask_and_scale!r}: True decodes "
            "to float32 with NaN for missing values, False gives the stored values."
        )
    options: dict[str, Any] = {
        "chunks": None if by_mapping else chunks,
        "cache": False,
        "mask_and_scale": bool(mask_and_scale),
    }
    if fmt == "zarr":
        if url:
            options["backend_kwargs"] = {"storage_options": dict(storage_options or {})}
        ds = xr.open_dataset(
            str(path) if url else os.fspath(path), engine=engine or "zarr", **options
        )
    else:
        target: Any = os.fspath(path)
        if url:
            import fsspec

            target = fsspec.open(str(path), "rb", **dict(storage_options or {})).open()
        ds = xr.open_dataset(
            target, engine=engine or ("h5netcdf" if url else "netcdf4"), **options
        )
    if mask_and_scale:
        # exports of earlier versions stored float16 without scale_factor
        for name, var in ds.data_vars.items():
            if var.dtype == np.float16:
                ds[name] = _as_float32(var)
    if by_mapping:
        ds = _chunk_volumes(ds, chunks, default=chunks is EXPERIMENT_CHUNKS)
    # Zarr gives numpy StringDType, netCDF fixed-width str: agea_xr uses object
    ds = with_object_names(ds)
    for level in LEVELS:  # a cell type's ancestors, indexed as open_cell_types does
        if level in ds.coords and ds[level].dims == (CELL_TYPE,) and level not in ds.xindexes:
            ds = ds.set_xindex(level)
    if "gene" in ds.coords and ds["gene"].dims == (EXPERIMENT,) and EXPERIMENT in ds.coords:
        ds = set_gene_index(ds)
    return restore_attributes(ds)


class _Float32View(BackendArray):
    """float32 view of a lazily indexed float16 array, read on demand."""

    def __init__(self, array: Any) -> None:
        self.array = array
        self.shape = tuple(array.shape)
        self.dtype = np.dtype(np.float32)

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.asarray(self.array[key], dtype=np.float32)


def _as_float32(var: xr.DataArray) -> xr.Variable:
    """The values of a float16 variable as float32, lazily (dask or lazily indexed)."""
    variable = var.variable
    if variable.chunks is not None:
        data = variable.data.astype(np.float32)
    else:
        data = indexing.LazilyIndexedArray(_Float32View(variable._data))
    return xr.Variable(variable.dims, data, variable.attrs, variable.encoding)


def _chunk_volumes(ds: xr.Dataset, chunks: Mapping[str, Any], default: bool) -> xr.Dataset:
    """Dask-chunk the variables along experiment; load the small others (label, image)."""
    out = ds.copy(deep=False)
    for name, var in ds.data_vars.items():
        if EXPERIMENT not in var.dims:
            out[name] = var.load()
            continue
        stored = _stored_chunk(var)
        if default:
            step = stored * max(1, -(-CHUNK_EXPERIMENTS // stored))
        else:
            step = chunks.get(EXPERIMENT, stored)
        out[name] = var.chunk(
            {d: step if d == EXPERIMENT else chunks.get(d, -1) for d in var.dims}
        )
    return out


def _stored_chunk(var: xr.DataArray) -> int:
    enc = var.encoding
    for key in ("shards", "chunks", "chunksizes"):
        value = enc.get(key)
        if value:
            return int(value[0])
    preferred = enc.get("preferred_chunks", {})
    return int(preferred.get(EXPERIMENT, 1))
