"""Export to netCDF and Zarr, whole or as subsets, written safely; open exports back.

:func:`export` writes a dataset (or a subset of genes, experiments or
regions) to a netCDF file or a Zarr store, picking the format by suffix.
netCDF gets the lossless float32 encoding of :mod:`agea_xr.encoding`; Zarr
gets the compact float16 form. Writing goes to a temporary name in the
target's folder, which is renamed into place only once complete: a failed or
interrupted export never leaves a partial file at the target, and an existing
target is replaced only with ``overwrite=True``.

:func:`open_export` opens such a file or store back (a local path or an
fsspec URL), lazily, with the gene index set, so that ``.sel(gene=...)`` and
``.agea`` work exactly as on a dataset from :func:`agea_xr.open_dataset`.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ._files import check_local, safe_write
from .dataset import CHUNK_EXPERIMENTS
from .encoding import netcdf_encoding, prepare_for_netcdf, zarr_encoding
from .formats import format_of
from .gene_index import GeneIndex
from .layout import EXPERIMENT
from .remote import is_url

__all__ = [
    "NETCDF_ENGINES",
    "SHARD_EXPERIMENTS",
    "export",
    "subset",
]

#: xarray engines that can write the netCDF export ("netcdf4": netCDF-C, the default).
NETCDF_ENGINES = ("netcdf4", "h5netcdf")
#: Default experiments per Zarr shard (Zarr format 3): one shard per dask chunk
#: of :func:`agea_xr.open_dataset`, so 136 objects for the 4,345 experiments
#: instead of 4,345, with each experiment still readable alone.
SHARD_EXPERIMENTS = CHUNK_EXPERIMENTS


# --- subsets -----------------------------------------------------------------------
def _as_list(value: Any) -> list:
    if isinstance(value, (str, bytes, int, np.integer)):
        return [value]
    return list(value)


def subset(
    ds: xr.Dataset,
    *,
    genes: str | Iterable[str] | None = None,
    experiments: int | Iterable[int] | None = None,
    regions: str | int | Iterable[str | int] | None = None,
    mapping: str = "Allen",
    hemisphere: str | None = None,
    crop: bool = True,
) -> xr.Dataset:
    """The part of ``ds`` that :func:`export` writes, lazily.

    Parameters
    ----------
    ds : xarray.Dataset
    genes : str or list of str, optional
        Keep every experiment of these genes, in the order given.
    experiments : int or list of int, optional
        Keep these Allen experiment ids (after those of ``genes``, if both are given).
    regions : str, int or list of them, optional
        Keep the voxels of these regions (acronyms or Allen ids, descendants
        included): other voxels of real-valued volumes become NaN, as with
        :func:`agea_xr.regions.sel_region`; ``label`` is kept whole.
    mapping : str, default "Allen"
        Mapping the voxels are assigned with (see :data:`agea_xr.regions.MAPPINGS`).
    hemisphere : {None, "left", "right"}, default None
        Restrict the regions to one hemisphere.
    crop : bool, default True
        With ``regions``, also cut the grid to the regions' bounding box.

    Returns
    -------
    xarray.Dataset
        Attributes and encodings of the variables are kept; ``attrs["subset"]``
        says what was selected.

    Raises
    ------
    KeyError
        For an unknown gene (with close matches), experiment id or region.
    ValueError
        For an empty ``genes``, ``experiments`` or ``regions`` list, an unknown
        mapping or hemisphere, or regions without a label volume.

    Examples
    --------
    >>> import agea_xr
    >>> part = subset(agea_xr.open_sample(), genes="Pdyn", regions="CA1")
    >>> list(part.gene.values), part.sizes["ml"] < 58, part.attrs["subset"]
    (['Pdyn'], True, 'genes: Pdyn; regions: CA1 (Allen mapping, masked, cropped)')
    """
    out = ds
    described = []
    if genes is not None or experiments is not None:
        positions: list[np.ndarray] = []
        if genes is not None:
            genes = [str(g) for g in _as_list(genes)]
            if not genes:
                raise ValueError(
                    "genes=[] selects no experiment, so nothing would be exported: pass at "
                    "least one gene symbol (e.g. genes=['Pdyn']), or genes=None to keep "
                    "every gene."
                )
            if "gene" not in out.xindexes:
                out = out.set_xindex("gene", GeneIndex)
            index = out.xindexes["gene"]
            positions.append(index.positions(genes))
            described.append("genes: " + ", ".join(genes))
        if experiments is not None:
            experiments = [int(e) for e in _as_list(experiments)]
            if not experiments:
                raise ValueError(
                    "experiments=[] selects no experiment, so nothing would be exported: "
                    "pass at least one Allen experiment id (see ds.experiment.values), or "
                    "experiments=None to keep every experiment."
                )
            ids = out[EXPERIMENT].to_index()
            unknown = [e for e in experiments if e not in ids]
            if unknown:
                raise KeyError(
                    f"Experiment id(s) {unknown} are not in this dataset; it has "
                    f"{ids.size} experiments, e.g. {ids[:3].tolist()}. List them with "
                    "ds.experiment.values."
                )
            positions.append(ids.get_indexer(experiments))
            described.append("experiments: " + ", ".join(map(str, experiments)))
        order = np.concatenate(positions).astype(np.int64)
        _, first = np.unique(order, return_index=True)
        out = out.isel({EXPERIMENT: order[np.sort(first)]})
    if regions is not None:
        from .regions import sel_region

        masked = sel_region(out, regions, mapping=mapping, hemisphere=hemisphere, crop=crop)
        for name, var in masked.data_vars.items():
            # .where() drops attributes and encodings: the values are the same kind
            var.attrs = dict(out[name].attrs)
            var.encoding = dict(out[name].encoding)
        out = masked
        names = ", ".join(map(str, _as_list(regions)))
        side = f", {hemisphere} hemisphere" if hemisphere else ""
        how = "masked, cropped" if crop else "masked"
        described.append(f"regions: {names} ({mapping} mapping{side}, {how})")
    if described:
        out = out.copy(deep=False)
        out.attrs = {**ds.attrs, "subset": "; ".join(described)}
    return out


# --- export ------------------------------------------------------------------------
def _zarr_format() -> int:
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


def _rechunk(ds: xr.Dataset, experiments: int) -> xr.Dataset:
    """Dask chunks of whole volumes, ``experiments`` per chunk, on the volume variables."""
    out = ds.copy(deep=False)
    for name, var in ds.data_vars.items():
        if EXPERIMENT in var.dims:
            out[name] = var.chunk({d: experiments if d == EXPERIMENT else -1 for d in var.dims})
    return out


def _run(delayed: Any, progress: bool, description: str) -> None:
    """Compute the write; on failure, wait for tasks still running before returning.

    dask's threaded scheduler raises at the first failed task while others are
    still writing: with our own pool, leaving the ``with`` waits for them, so
    that nothing writes into the temporary after :func:`safe_write` removed it.
    """
    from concurrent.futures import ThreadPoolExecutor

    import dask
    import dask.threaded

    callback = contextlib.nullcontext()
    if progress:
        from tqdm.dask import TqdmCallback

        callback = TqdmCallback(desc=description, unit="task")
    with callback:
        if dask.base.get_scheduler(collections=[delayed]) is dask.threaded.get:
            workers = dask.config.get("num_workers", None) or os.cpu_count() or 1
            with ThreadPoolExecutor(max_workers=workers) as pool:
                delayed.compute(scheduler="threads", pool=pool)
        else:
            delayed.compute()


def export(
    ds: xr.Dataset | xr.DataArray,
    path: str | os.PathLike,
    format: str | None = None,
    *,
    variant: str | None = None,
    genes: str | Iterable[str] | None = None,
    experiments: int | Iterable[int] | None = None,
    regions: str | int | Iterable[str | int] | None = None,
    mapping: str = "Allen",
    hemisphere: str | None = None,
    crop: bool = True,
    storage_options: Mapping[str, Any] | None = None,
    chunks: int = 1,
    shards: int | None = SHARD_EXPERIMENTS,
    dtype: str | None = None,
    engine: str = "netcdf4",
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Write a dataset, or a subset of it, to netCDF or Zarr, safely.

    netCDF (``*.nc``): expression as float32 (exact for the float16 release;
    never float16, which netCDF-C readers cannot read), zlib-compressed, NaN
    fill, CF attributes, the ``gene`` and ``experiment`` coordinates, ``label``
    and ``image``. Zarr (``*.zarr``): the compact form, expression as float16
    (lossless), Blosc-zstd, ``chunks`` experiments per chunk, sharded.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        A dataset from :func:`agea_xr.open_dataset` (or an export reopened); a
        DataArray is written as a one-variable dataset.
    path : str or os.PathLike
        Local target; its suffix picks the format unless ``format`` is given.
    format : {"netcdf", "zarr"}, optional
    variant : {None, "raw", "processed"}, default None
        None: the values of ``ds``. Otherwise the values of that variant, read
        from the release ``ds`` was opened from (``ds.attrs["source"]``, a
        folder or URL) with the same decoding (``mask``); the experiments and
        grid of ``ds`` are kept (changes made to its values are not: they are
        read again), and the other subsets apply as usual.
    genes, experiments, regions, mapping, hemisphere, crop
        What to export; see :func:`subset`. Default: everything.
    storage_options : mapping, optional
        fsspec options to read a URL source with, for ``variant``.
    chunks : int, default 1
        Experiments per on-disk chunk (1: any experiment is read alone).
    shards : int or None, default 32
        Zarr format 3: experiments per shard (one object holding that many
        chunks); None for one object per chunk. Ignored for netCDF and Zarr 2.
    dtype : {None, "float16", "float32"}, optional
        On-disk type of expression. None: float32 for netCDF; for Zarr float16
        when the values are float16 (read unchanged from the release, or from a
        Zarr export), else float32. float16 is refused for netCDF, and for Zarr whenever a
        value would change.
    engine : {"netcdf4", "h5netcdf"}, default "netcdf4"
        netCDF writer.
    overwrite : bool, default False
        Replace an existing ``path``.
    progress : bool, default False
        Show a progress bar (on stderr) while writing.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    FileNotFoundError
        If the source of ``ds`` holds no binary of ``variant``.
    ValueError
        For an unknown format, engine, dtype or variant, a ``variant`` asked of a
        dataset whose source is unknown, float16 asked for netCDF, values not
        exact in float16, or an invalid (e.g. empty) subset.
    KeyError
        For unknown genes, experiments or regions.
    ImportError
        If the writer of the format is not installed.

    Examples
    --------
    >>> import tempfile, pathlib, agea_xr
    >>> ds = agea_xr.open_sample()
    >>> path = export(ds, pathlib.Path(tempfile.mkdtemp()) / "pdyn.nc", genes="Pdyn")
    >>> back = agea_xr.open_export(path)
    >>> bool(back.expression.sel(gene="Pdyn").equals(ds.expression.sel(gene="Pdyn")))
    True

    The bundled sample has no processed binary, so asking for it says so:

    >>> export(ds, pathlib.Path(tempfile.mkdtemp()) / "p.nc",
    ...        variant="processed")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: Cannot export the processed variant of '...sample': No processed ...
    """
    fmt = format_of(path, format)
    check_local(path)
    if isinstance(ds, xr.DataArray):
        ds = ds.to_dataset(name=ds.name or "expression", promote_attrs=True)
    if engine not in NETCDF_ENGINES:
        raise ValueError(f"Unknown netCDF engine {engine!r}: choose one of {NETCDF_ENGINES}.")
    if not isinstance(chunks, (int, np.integer)) or chunks < 1:
        raise ValueError(f"chunks={chunks!r} must be a positive number of experiments.")
    _require_writer(fmt, engine)
    ds = _with_variant(ds, variant, storage_options)
    on_disk = _on_disk_dtype(ds, fmt, dtype)
    part = subset(
        ds,
        genes=genes,
        experiments=experiments,
        regions=regions,
        mapping=mapping,
        hemisphere=hemisphere,
        crop=crop,
    )
    path = Path(path)
    if fmt == "netcdf":
        write = _netcdf_writer(part, chunks, engine)
    else:
        write = _zarr_writer(part, chunks, shards, on_disk)
    with safe_write(path, overwrite=overwrite) as tmp:
        _run(write(tmp), progress, f"export {path.name}")
    return path


#: The module each writer needs, and the extra of agea-xr that installs it.
_WRITERS = {
    ("netcdf", "netcdf4"): ("netCDF4", "netcdf"),
    ("netcdf", "h5netcdf"): ("h5netcdf", "netcdf"),
    ("zarr", None): ("zarr", "zarr"),
}


def _require_writer(fmt: str, engine: str) -> None:
    """Raise a clear ImportError, before any work, if the writer is not installed."""
    import importlib.util

    module, extra = _WRITERS[(fmt, engine if fmt == "netcdf" else None)]
    if importlib.util.find_spec(module) is None:
        raise ImportError(
            f"Writing {fmt} {'with engine ' + repr(engine) + ' ' if fmt == 'netcdf' else ''}"
            f"needs the {module} package, which is not installed: "
            f"pip install 'agea-xr[{extra}]' (or 'agea-xr[all]')."
        )


def _with_variant(
    ds: xr.Dataset, variant: str | None, storage_options: Mapping[str, Any] | None
) -> xr.Dataset:
    """``ds`` with the values of ``variant``, re-read from its source; ``ds`` if None or same."""
    if variant is None:
        return ds
    from .layout import GRID_DIMS, binary_file

    binary_file(variant)  # validates variant
    if ds.attrs.get("variant") == variant:
        return ds
    source = ds.attrs.get("source")
    if not source or not (is_url(source) or os.path.isdir(source)):
        raise ValueError(
            f"Cannot export the {variant} variant: this dataset's source "
            f"(attrs['source'] = {source!r}) is not the folder or URL of an AGEA release, so "
            f"its {variant} values cannot be read. Open the release with "
            f"agea_xr.open_dataset(FOLDER_OR_URL, variant={variant!r}) and export that, "
            "without variant=."
        )
    from .api import open_dataset

    var = ds.get("expression")
    mask = var is None or var.dtype != np.float16  # mask=False keeps the stored float16
    try:
        other = open_dataset(source, variant=variant, mask=mask, storage_options=storage_options)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"Cannot export the {variant} variant of {str(source)!r}: {err}"
        ) from err
    # the experiments and grid of ds (it may be a selection), the variables it has
    keep = {d: ds[d].values for d in (EXPERIMENT, *GRID_DIMS) if d in ds.coords}
    other = other.sel(keep)
    names = [name for name in ds.data_vars if name in other.data_vars]
    if not names:
        raise ValueError(
            f"Cannot export the {variant} variant: none of this dataset's variables "
            f"{list(ds.data_vars)} is in the release at {str(source)!r}, which has "
            f"{list(other.data_vars)}."
        )
    return other[names]


def _on_disk_dtype(ds: xr.Dataset, fmt: str, dtype: str | None) -> np.dtype:
    if dtype is not None and str(dtype) not in ("float16", "float32"):
        raise ValueError(f"Unknown dtype {dtype!r}: choose None, 'float16' or 'float32'.")
    if fmt == "netcdf":
        if dtype is not None and str(dtype) == "float16":
            raise ValueError(
                "netCDF has no float16 type: files holding it crash netCDF-C readers "
                "(netCDF4, ncdump). Use dtype='float32' (lossless) or a .zarr path."
            )
        return np.dtype(np.float32)
    if dtype is not None:
        return np.dtype(dtype)
    var = ds.get("expression")
    if var is None:
        return np.dtype(np.float32)
    # float16 values: in memory, stored so (a compact export), or read unchanged
    # from an AGEA binary (whose values are float16); _exact_float16 checks anyway
    from_float16 = (
        var.dtype == np.float16
        or var.encoding.get("dtype") == np.float16
        or str(var.encoding.get("source", "")).endswith(".bin")
    )
    return np.dtype(np.float16 if from_float16 else np.float32)


def _netcdf_writer(ds: xr.Dataset, chunks: int, engine: str) -> Callable[[Path], Any]:
    out = _rechunk(prepare_for_netcdf(ds), max(chunks, CHUNK_EXPERIMENTS))
    encoding = netcdf_encoding(out, chunk_experiments=chunks)

    def write(tmp: Path) -> Any:
        return out.to_netcdf(tmp, engine=engine, encoding=encoding, compute=False)

    return write


def _zarr_writer(
    ds: xr.Dataset, chunks: int, shards: int | None, dtype: np.dtype
) -> Callable[[Path], Any]:
    zarr_format = _zarr_format()
    if zarr_format != 3:
        shards = None
    n = ds.sizes.get(EXPERIMENT, 0)
    if shards is not None and n <= chunks:
        shards = None
    step = shards if shards is not None else chunks * max(1, CHUNK_EXPERIMENTS // chunks)
    out = _rechunk(ds, step)
    out = out.drop_indexes("gene") if "gene" in out.xindexes else out
    if dtype == np.float16:
        for name, var in ds.data_vars.items():
            if var.dims[:1] == (EXPERIMENT,) and var.dtype.kind == "f" and var.dtype != dtype:
                out[name] = out[name].copy(
                    data=out[name].data.map_blocks(_exact_float16, dtype=np.float16)
                )
    encoding = zarr_encoding(
        out,
        dtype=dtype,
        chunk_experiments=chunks,
        shard_experiments=shards,
        zarr_format=zarr_format,
    )

    def write(tmp: Path) -> Any:
        with warnings.catch_warnings():
            # consolidated metadata lets xr.open_zarr open the store in one read,
            # without warning; zarr 3 flags it as not (yet) in its specification
            warnings.filterwarnings("ignore", "Consolidated metadata", UserWarning)
            return out.to_zarr(
                tmp,
                mode="w-",
                encoding=encoding,
                compute=False,
                consolidated=True,
                zarr_format=zarr_format,
            )

    return write
