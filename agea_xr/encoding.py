"""Default on-disk encodings of an AGEA dataset: lossless netCDF and compact Zarr.

netCDF has no half-precision type (xarray issue 1877): a float16 variable written
by the ``h5netcdf`` engine is labelled netCDF-4 but crashes netCDF-C based
readers (the ``netCDF4`` package, ``ncdump``). Packed int16 is not lossless for
these values either (errors up to ~0.004 at a scale of 1/128). The netCDF
encoding here is therefore float32 (exact for every float16 value) with zlib
and byte shuffle, one experiment per HDF5 chunk, NaN as fill value.

The Zarr form is float32 too, one experiment per chunk, Blosc-zstd with byte
shuffle, optionally sharded: the float32 of a float16 value has two zero bytes
that shuffle and zstd all but remove (7% more bytes than float16 on the real
sample), and every reader decodes it to float32. float16 on disk is there on
request (``dtype="float16"``, lossless for the release, whose values *are*
float16): plain ``xr.open_zarr`` then gives float16, which dask sums in
float16 (overflowing to inf), and no CF attribute can make xarray decode a
NaN-filled float16 array to float32 (a ``scale_factor`` read from Zarr's JSON
decodes to float64). Missing values are NaN.

Coordinates get no ``_FillValue`` (CF forbids one on a coordinate variable).

:func:`attach_default_encoding` puts the netCDF encoding on a freshly built
dataset, so that plain ``ds.to_netcdf(path)`` already does the right thing.
CF attributes come from :mod:`agea_xr.conventions`; this module makes their
values storable (:func:`netcdf_attr`). It imports nothing heavier than numpy
and xarray.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from .conventions import update_attributes
from .gene_index import drop_gene_index
from .layout import EXPERIMENT, GRID_DIMS

__all__ = [
    "NETCDF_COMPLEVEL",
    "ZARR_CLEVEL",
    "attach_default_encoding",
    "chunk_like_storage",
    "netcdf_attr",
    "netcdf_encoding",
    "prepare_for_netcdf",
    "storable_attributes",
    "zarr_encoding",
]

#: zlib level of the netCDF encoding: measured on the real Allen sample, level 4
#: with shuffle stores float32 expression in 33% of its size (65% of the float16
#: bytes), at twice the speed of level 6 and 10x that of level 9 (4% smaller).
NETCDF_COMPLEVEL = 4
#: Blosc-zstd level of the Zarr encoding (byte shuffle; bitshuffle compresses
#: these float16 values 10% worse).
ZARR_CLEVEL = 3
#: Data variables that are expression volumes (experiment, ml, dv, ap).
_VOLUME_DIMS = (EXPERIMENT, *GRID_DIMS)


def _is_expression(var: xr.Variable) -> bool:
    return var.dims == _VOLUME_DIMS and var.dtype.kind == "f"


def _netcdf_variable_encoding(var: xr.Variable, chunk_experiments: int = 1) -> dict[str, Any]:
    """The netCDF encoding of one variable (see :func:`netcdf_encoding`)."""
    encoding: dict[str, Any] = {}
    if var.dtype.kind in "fiu" and var.ndim >= 2:
        encoding.update(zlib=True, complevel=NETCDF_COMPLEVEL, shuffle=True)
    if var.dtype.kind == "f":
        # never float16 into netCDF; float32 holds every float16 value exactly
        dtype = np.dtype(np.float32) if var.dtype.itemsize <= 4 else var.dtype
        encoding.update(dtype=dtype, _FillValue=dtype.type(np.nan))
    if _is_expression(var):
        encoding["chunksizes"] = (
            max(1, min(int(chunk_experiments), var.shape[0])),
            *var.shape[1:],
        )
    return encoding


def attach_default_encoding(ds: xr.Dataset) -> xr.Dataset:
    """Put the lossless netCDF encoding on the variables of ``ds``, in place.

    Existing encoding keys that are not about the on-disk form (``source``,
    ``preferred_chunks``) are kept. After this, ``ds.to_netcdf(path)`` writes
    ``expression`` as float32 (never float16), zlib-compressed, one experiment
    per chunk, NaN as fill value; ``label`` and ``image`` compressed.

    Parameters
    ----------
    ds : xarray.Dataset
        A dataset built by :func:`agea_xr.dataset.build_dataset`.

    Returns
    -------
    xarray.Dataset
        The same object.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample(mask_and_scale=False)  # float16 in memory
    >>> enc = ds.expression.encoding
    >>> str(enc["dtype"]), enc["chunksizes"], enc["zlib"]
    ('float32', (1, 58, 41, 67), True)
    """
    for name, var in ds.variables.items():
        if name in ds.coords:
            continue
        var.encoding.update(_netcdf_variable_encoding(var))
    return ds


def netcdf_encoding(ds: xr.Dataset, chunk_experiments: int = 1) -> dict[Hashable, dict]:
    """Explicit lossless netCDF encodings for every data variable of ``ds``.

    Parameters
    ----------
    ds : xarray.Dataset
        Any dataset with AGEA-like variables (subsets and reopened exports too).
    chunk_experiments : int, default 1
        Experiments per HDF5 chunk of expression volumes.

    Returns
    -------
    dict
        ``{name: encoding}`` for ``Dataset.to_netcdf(encoding=...)``: float
        variables as float32 (float64 kept) with NaN fill, numeric volumes
        zlib-compressed with shuffle, expression volumes chunked by experiment.
        Coordinates get no ``_FillValue`` (CF forbids one on a coordinate).

    Examples
    --------
    >>> import agea_xr
    >>> enc = netcdf_encoding(agea_xr.open_sample(mask_and_scale=False))
    >>> str(enc["expression"]["dtype"]), enc["expression"]["complevel"]
    ('float32', 4)
    """
    out: dict[Hashable, dict] = {}
    for name, var in ds.variables.items():
        if name in ds.coords:
            out[name] = _coordinate_encoding(var)
        else:
            out[name] = _netcdf_variable_encoding(var, chunk_experiments)
    return out


def _coordinate_encoding(var: xr.Variable) -> dict[str, Any]:
    """No ``_FillValue`` on a coordinate (xarray adds NaN to float ones by default)."""
    return {"_FillValue": None} if var.dtype.kind in "fiu" else {}


def zarr_encoding(
    ds: xr.Dataset,
    *,
    dtype: str | np.dtype = "float32",
    chunk_experiments: int = 1,
    shard_experiments: int | None = None,
    zarr_format: int = 3,
) -> dict[Hashable, dict]:
    """Compact Zarr encodings for every variable of ``ds``.

    Parameters
    ----------
    ds : xarray.Dataset
    dtype : {"float32", "float16"}, default "float32"
        On-disk type of expression volumes. float32 decodes to float32 in every
        reader; float16 is compact and lossless for data of the release (whose
        values are float16; NaN is exact), but plain xarray reads it as float16.
    chunk_experiments : int, default 1
        Experiments per Zarr chunk of expression volumes (a chunk always holds
        whole volumes).
    shard_experiments : int, optional
        Experiments per shard (Zarr format 3 only): many chunks stored in one
        object, each still readable alone. Must be a multiple of
        ``chunk_experiments``. None: no sharding.
    zarr_format : {2, 3}, default 3

    Returns
    -------
    dict
        ``{name: encoding}`` for ``Dataset.to_zarr(encoding=...)``.

    Raises
    ------
    ValueError
        For an unknown dtype, or shards that are not a multiple of the chunks,
        or shards with Zarr format 2.

    Examples
    --------
    >>> import agea_xr
    >>> enc = zarr_encoding(agea_xr.open_sample())
    >>> str(enc["expression"]["dtype"]), enc["expression"]["chunks"]
    ('float32', (1, 58, 41, 67))
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float16), np.dtype(np.float32)):
        raise ValueError(
            f"Unsupported on-disk dtype {str(dtype)!r} for expression: choose 'float16' "
            "(compact, lossless for the release) or 'float32'."
        )
    if shard_experiments is not None:
        if zarr_format != 3:
            raise ValueError(
                f"Shards need Zarr format 3, not {zarr_format}: pass shards=None or install "
                "zarr>=3."
            )
        if shard_experiments < 1 or shard_experiments % chunk_experiments:
            raise ValueError(
                f"shards={shard_experiments!r} must be a positive multiple of "
                f"chunks={chunk_experiments!r} (experiments per chunk)."
            )
    out: dict[Hashable, dict] = {}
    for name, var in ds.variables.items():
        if name in ds.coords:
            out[name] = _coordinate_encoding(var)
            continue
        encoding: dict[str, Any] = {}
        if zarr_format == 3:
            # zarr-python 2 (format 2) keeps its default compressor, Blosc-lz4
            encoding["compressors"] = _zarr_compressors()
        if var.dtype.kind == "f":
            on_disk = dtype if _is_expression(var) else var.dtype
            encoding.update(dtype=on_disk, _FillValue=on_disk.type(np.nan))
        if _is_expression(var):
            n = var.shape[0]
            chunk = max(1, min(int(chunk_experiments), n))
            encoding["chunks"] = (chunk, *var.shape[1:])
            if shard_experiments is not None and n > chunk:
                shard = min(int(shard_experiments), -(-n // chunk) * chunk)
                encoding["shards"] = (shard, *var.shape[1:])
        out[name] = encoding
    return out


def _zarr_compressors() -> tuple:
    from zarr.codecs import BloscCodec

    return (BloscCodec(cname="zstd", clevel=ZARR_CLEVEL, shuffle="shuffle"),)


# --- attributes ----------------------------------------------------------------------
def netcdf_attr(value: Any) -> Any:
    """Turn one attribute value into something netCDF can store, or None to drop it.

    netCDF attributes are strings, numbers or 1-D arrays of them: None is
    dropped, booleans become 0/1, mappings become JSON text, sets and
    sequences become arrays (or JSON text when mixed), anything else its
    ``str``.

    Parameters
    ----------
    value : object

    Returns
    -------
    object or None

    Examples
    --------
    >>> netcdf_attr({"mapping": "Allen"}), netcdf_attr(True), netcdf_attr(None)
    ('{"mapping": "Allen"}', 1, None)
    """
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, numbers.Number):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "iufSU" and value.ndim <= 1:
        return value
    if isinstance(value, Mapping):
        return json.dumps({str(k): _jsonable(v) for k, v in value.items()})
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
        if items and all(isinstance(v, str) for v in items):
            return items
        if all(isinstance(v, numbers.Number) and not isinstance(v, bool) for v in items):
            return np.asarray(items)
        return json.dumps([_jsonable(v) for v in items])
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        return [_jsonable(v) for v in value]
    return str(value)


def _clean(attrs: Mapping[Any, Any]) -> dict[str, Any]:
    out = {}
    for key, value in attrs.items():
        value = netcdf_attr(value)
        if value is not None:
            out[str(key)] = value
    return out


def storable_attributes(ds: xr.Dataset) -> xr.Dataset:
    """A shallow copy of ``ds`` whose attribute values netCDF can store (:func:`netcdf_attr`).

    Parameters
    ----------
    ds : xarray.Dataset

    Returns
    -------
    xarray.Dataset

    Examples
    --------
    >>> import xarray as xr
    >>> storable_attributes(xr.Dataset(attrs={"flag": True, "none": None})).attrs
    {'flag': 1}
    """
    out = ds.copy(deep=False)
    for name in out.variables:
        variable = out[name].variable
        variable.attrs = _clean(variable.attrs)
    out.attrs = _clean(ds.attrs)
    return out


def chunk_like_storage(ds: xr.Dataset, experiments: int) -> xr.Dataset:
    """Dask chunks of whole volumes, ``experiments`` per chunk, on the volume variables.

    Writers write one dask chunk per task: chunks that hold whole stored chunks
    (or shards) never share one between two tasks.

    Parameters
    ----------
    ds : xarray.Dataset
    experiments : int
        Experiments per dask chunk.

    Returns
    -------
    xarray.Dataset

    Examples
    --------
    >>> import agea_xr
    >>> chunk_like_storage(agea_xr.open_sample(), 1).expression.chunks[0]
    (1, 1)
    """
    out = ds.copy(deep=False)
    for name, var in ds.data_vars.items():
        if EXPERIMENT in var.dims:
            chunks = {d: experiments if d == EXPERIMENT else -1 for d in var.dims}
            out[name] = var.variable.chunk(chunks)
    return out


def prepare_for_netcdf(ds: xr.Dataset, history: str | None = None) -> xr.Dataset:
    """What :func:`agea_xr.export` writes to netCDF: CF attributes, plain indexes.

    The attributes of :mod:`agea_xr.conventions` (with a ``history`` entry),
    made storable by :func:`netcdf_attr`. The custom
    :class:`~agea_xr.gene_index.GeneIndex` is dropped (the ``gene`` coordinate
    itself is kept; :func:`agea_xr.open_export` sets the index back).

    Parameters
    ----------
    ds : xarray.Dataset
    history : str, optional
        What is written, for the ``history`` attribute.

    Returns
    -------
    xarray.Dataset
        A shallow copy: ``ds`` is not changed.

    Examples
    --------
    >>> import agea_xr
    >>> out = prepare_for_netcdf(agea_xr.open_sample(), "export to netCDF")
    >>> "gene" in out.xindexes, out.attrs["Conventions"]
    (False, 'CF-1.10')
    """
    return drop_gene_index(storable_attributes(update_attributes(ds, history=history)))
