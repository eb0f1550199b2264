"""Export to netCDF and Zarr, whole or as subsets, written safely.

:func:`export` writes a dataset (or a subset of genes, experiments or regions,
:mod:`agea_xr.export.subset`) to a netCDF file (:mod:`agea_xr.export.netcdf`:
lossless float32) or a Zarr store (:mod:`agea_xr.export.zarr`: float32, or
float16 on request), picking the format by suffix. Both carry the CF attributes of
:mod:`agea_xr.conventions` and a ``history`` entry, and decode to float32 with
NaN for missing values in plain xarray, whatever the dataset's decoding.

Writing goes through :func:`agea_xr._files.safe_write`: to a temporary name in
the target's folder, renamed into place only once complete, so a failed or
interrupted export never leaves a partial file at the target, and an existing
target is replaced only with ``overwrite=True``. A full disk is reported with
the path and the space the export needs. :func:`agea_xr.open_export` opens an
export back.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .._choices import check_choice, check_integer
from .._files import check_local, safe_write
from ..conventions import expression_attributes, global_attributes
from ..formats import VIEWER_FORMATS, format_of
from ..layout import EXPERIMENT, MISSING
from ..remote import is_url
from .netcdf import NETCDF_ENGINES, write_netcdf
from .subset import subset
from .zarr import SHARD_EXPERIMENTS, write_zarr

__all__ = ["NETCDF_ENGINES", "SHARD_EXPERIMENTS", "export", "subset"]


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
    origin: str | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Write a dataset, or a subset of it, to netCDF or Zarr, safely.

    netCDF (``*.nc``): expression as float32 (exact for the float16 release;
    never float16, which netCDF-C readers cannot read), zlib-compressed, NaN
    fill, CF attributes, the ``gene`` and ``experiment`` coordinates, ``label``
    and ``image``. Zarr (``*.zarr``): expression as float32 (float16 with
    ``dtype="float16"``), Blosc-zstd, ``chunks`` experiments per chunk, sharded.
    Either decodes to float32 with NaN for missing values in plain xarray.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        A dataset from :func:`agea_xr.open_dataset` (or an export reopened), with
        decoded (NaN) or stored (``-1``) missing values: the file always holds
        NaN. A DataArray is written as a one-variable dataset, with its own
        attributes and the dataset's global ones (title, citation).
    path : str or os.PathLike
        Local target; its suffix picks the format unless ``format`` is given.
    format : {"netcdf", "zarr"}, optional
    variant : {None, "raw", "processed"}, default None
        None: the values of ``ds``. Otherwise the values of that variant, read
        from the release ``ds`` was opened from (``ds.attrs["source"]``, a
        folder or URL); the experiments and grid of ``ds`` are kept (changes
        made to its values are not: they are read again), and the other subsets
        apply as usual.
    genes, experiments, regions, mapping, hemisphere, crop
        What to export; see :func:`subset`. Default: everything.
    storage_options : mapping, optional
        fsspec options to read a URL source with, for ``variant``.
    chunks : int, default 1
        Experiments per on-disk chunk (1: any experiment is read alone).
    shards : int or None, default 32
        Zarr format 3: experiments per shard (one object holding that many
        chunks, a multiple of ``chunks``); None for one object per chunk.
        Ignored for netCDF and Zarr 2.
    dtype : {None, "float16", "float32"}, optional
        On-disk type of expression. None: float32 (exact for the float16
        release). "float16": the compact Zarr form (7% smaller on the real
        sample), which :func:`agea_xr.open_export` decodes to float32 but plain
        ``xr.open_zarr`` gives as float16; refused for netCDF, and for Zarr
        whenever a value would change.
    engine : {"netcdf4", "h5netcdf"}, default "netcdf4"
        netCDF writer.
    origin : {None, "bregma", "ccf"}, optional
        For the formats of viewers, where positions are counted from: bregma
        (RAS+ millimetres as IBL's xyz, the default of NIfTI and NRRD) or the
        CCF corner (micrometres as Allen's CCF, the default of OME-Zarr); see
        :mod:`agea_xr.spaces`. Ignored for netCDF and Zarr.
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
        If the source of ``ds`` holds no binary of ``variant``, or the folder of
        ``path`` does not exist.
    ValueError
        For an unknown format, engine, dtype or variant, ``chunks`` or ``shards``
        below 1 or not whole numbers, a ``variant`` asked of a dataset whose
        source is unknown, float16 asked for netCDF, values not exact in
        float16, or an invalid (e.g. empty) subset.
    OSError
        If the disk fills up (``ENOSPC``): the message names ``path``, the space
        the export needs and the space there is; nothing is left behind.
    KeyError
        For unknown genes, experiments or regions.
    TypeError
        If ``ds`` is not a Dataset or DataArray (a DataTree: export one of its
        nodes, ``tree["cell_types/class"].to_dataset()``, or write the whole tree
        with ``tree.to_netcdf`` / ``tree.to_zarr``).
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
    _check_exportable(ds)
    fmt = format_of(path, format)
    check_local(path)
    if origin is not None:
        from ..spaces import ORIGINS

        check_choice(origin, ORIGINS, "origin")
    if isinstance(ds, xr.DataArray):
        # the variable keeps its attributes; the file gets the dataset's global ones
        ds = xr.Dataset({ds.name or "expression": ds}, attrs=global_attributes())
    check_choice(engine, NETCDF_ENGINES, "netCDF engine")
    chunks = check_integer(chunks, "chunks", minimum=1)
    if shards is not None:
        shards = check_integer(shards, "shards", minimum=1)
    _require_writer(fmt, engine)
    ds = _with_variant(ds, variant, storage_options)
    on_disk = _on_disk_dtype(ds, fmt, dtype)
    part = _masked(
        subset(
            ds,
            genes=genes,
            experiments=experiments,
            regions=regions,
            mapping=mapping,
            hemisphere=hemisphere,
            crop=crop,
        )
    )
    part = _cf_order(part)
    part.attrs = {**global_attributes(), **part.attrs}  # results lack title and citation
    path = Path(path)
    history = f"export to {_NAMES[fmt]} {path.name}"
    if part.attrs.get("subset"):
        history += f" ({part.attrs['subset']})"

    def run(delayed: Any) -> None:
        _run(delayed, progress, f"export {path.name}")

    beside: dict[Path, str] = {}
    with safe_write(path, overwrite=overwrite) as tmp:
        try:
            if fmt == "netcdf":
                write_netcdf(part, tmp, chunks=chunks, engine=engine, history=history, run=run)
            elif fmt in VIEWER_FORMATS:
                beside = _write_for_viewers(part, tmp, path, fmt, origin, history)
            else:
                write_zarr(
                    part,
                    tmp,
                    chunks=chunks,
                    shards=shards,
                    dtype=on_disk,
                    history=history,
                    run=run,
                )
        except Exception as err:
            full = _disk_full(err, path, tmp, _needed_bytes(part, fmt, on_disk))
            if full is None:
                raise
            raise full from err
    for side, text in beside.items():  # colour tables of a label volume, replaced
        with safe_write(side, overwrite=True) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return path


def _check_exportable(ds: Any) -> None:
    """Refuse what is neither a Dataset nor a DataArray, saying what to do instead."""
    if isinstance(ds, (xr.Dataset, xr.DataArray)):
        return
    if isinstance(ds, xr.DataTree):
        groups = [g for g in ds.groups if g != "/" and ds[g].has_data]
        example = groups[0].lstrip("/") if groups else "cell_types/class"
        raise TypeError(
            "export() writes one Dataset (or DataArray), and this is a DataTree: export "
            f'one of its nodes, e.g. export(tree["{example}"].to_dataset(), path), or '
            "write the whole tree with tree.to_netcdf(path) or tree.to_zarr(path)."
        )
    raise TypeError(
        f"export() writes an xarray Dataset or DataArray, got {type(ds).__name__}: open "
        "one with agea_xr.open_dataset(), open_cell_types() or open_lipids()."
    )


#: The module each writer needs, and the extra of agea-xr that installs it.
_WRITERS = {
    ("netcdf", "netcdf4"): ("netCDF4", "netcdf"),
    ("netcdf", "h5netcdf"): ("h5netcdf", "netcdf"),
    ("zarr", None): ("zarr", "zarr"),
    ("ome-zarr", None): ("ome_zarr", "viewers"),
    ("nifti", None): ("nibabel", "viewers"),
    ("nrrd", None): ("nrrd", "viewers"),
}
#: The name of each format in messages and ``history``.
_NAMES = {
    "netcdf": "netCDF",
    "zarr": "Zarr",
    "ome-zarr": "OME-Zarr",
    "nifti": "NIfTI",
    "nrrd": "NRRD",
}


def _write_for_viewers(
    part: xr.Dataset, tmp: Path, path: Path, fmt: str, origin: str | None, history: str
) -> dict[Path, str]:
    """Dispatch to the OME-Zarr, NIfTI or NRRD writer; the files to write beside ``path``."""
    if fmt == "ome-zarr":
        from .ome_zarr import write_ome_zarr

        write_ome_zarr(part, tmp, origin=origin or "ccf", history=history)
        return {}
    if fmt == "nifti":
        from .nifti import write_nifti

        gz = path.name.lower().endswith(".gz")
        beside = write_nifti(part, tmp, origin=origin or "bregma", history=history, gz=gz)
    else:
        from .nrrd import write_nrrd

        beside = write_nrrd(part, tmp, origin=origin or "bregma", history=history)
    stem = path.name
    for suffix in (".nii.gz", ".nii", ".nrrd"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return {path.with_name(stem + suffix): text for suffix, text in beside.items()}


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
    from ..layout import GRID_DIMS, binary_file

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
    from ..api import open_dataset

    try:
        # decoded: float32 holds the float16 values exactly, and missing ones are NaN
        other = open_dataset(source, variant=variant, storage_options=storage_options)
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
        check_choice(dtype, (None, "float16", "float32"), "dtype")
    if fmt in VIEWER_FORMATS:
        if dtype is not None and str(dtype) == "float16":
            raise ValueError(
                f"{_NAMES[fmt]} exports are float32: viewers (neuroglancer, ITK-SNAP) do not "
                "read float16. Drop dtype= (or pass dtype='float32')."
            )
        return np.dtype(np.float32)
    if fmt == "netcdf":
        if dtype is not None and str(dtype) == "float16":
            raise ValueError(
                "netCDF has no float16 type: files holding it crash netCDF-C readers "
                "(netCDF4, ncdump). Use dtype='float32' (lossless) or a .zarr path."
            )
        return np.dtype(np.float32)
    return np.dtype(np.float32 if dtype is None else dtype)


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
        from tqdm.auto import tqdm
        from tqdm.dask import TqdmCallback

        callback = TqdmCallback(desc=description, unit="task", tqdm_class=tqdm)
    with callback:
        if dask.base.get_scheduler(collections=[delayed]) is dask.threaded.get:
            workers = dask.config.get("num_workers", None) or os.cpu_count() or 1
            with ThreadPoolExecutor(max_workers=workers) as pool:
                delayed.compute(scheduler="threads", pool=pool)
        else:
            delayed.compute()


def _masked(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with NaN where a raw volume holds the stored ``-1`` (``mask_and_scale=False`` data).

    The file then decodes like any other export (NaN, float32), in
    :func:`agea_xr.open_export` and in plain xarray alike. Processed values may
    be -1 and are never touched.
    """
    if ds.attrs.get("variant", "raw") != "raw":
        return ds
    out = ds
    for name, var in ds.data_vars.items():
        stored = var.dtype == np.float16 or "-1 means no measurement" in str(
            var.attrs.get("comment", "")
        )
        if var.dims[:1] == (EXPERIMENT,) and var.dtype.kind == "f" and stored:
            if out is ds:
                out = ds.copy(deep=False)
            masked = var.where(var != MISSING)
            if var.dtype == np.float16:
                masked = masked.astype(np.float16)  # NaN is exact in float16
            measure = "energy" if name == "expression" else str(name)
            attrs = dict(var.attrs)
            if measure in ("energy", "density", "intensity"):
                attrs["comment"] = expression_attributes(measure)["comment"]
            masked.attrs = attrs
            masked.encoding = dict(var.encoding)
            out[name] = masked.variable
    return out


def _cf_order(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` sorted along dimension coordinates that are not monotonic (CF requires it).

    Results (``region`` of :func:`agea_xr.region_expression`, in BrainRegions
    order) are small and sorted freely; rows keep their labels. ``experiment``
    is kept in its order (the release's, or the one asked), which a CF checker
    flags when it is not increasing: sorting would make every chunk of a large
    export read many chunks of the release.
    """
    for dim in ds.dims:
        if dim == EXPERIMENT or dim not in ds.indexes:
            continue
        index = ds.indexes[dim]
        if index.dtype.kind in "iuf" and not (
            index.is_monotonic_increasing or index.is_monotonic_decreasing
        ):
            ds = ds.sortby(dim)
    return ds


#: Errors that say the disk (or the file size limit) is full.
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _needed_bytes(ds: xr.Dataset, fmt: str, on_disk: np.dtype) -> int:
    """The uncompressed size of what is written (an upper bound of the file's size)."""
    total = 0
    for name, var in ds.variables.items():
        itemsize = var.dtype.itemsize
        if name in ds.data_vars and var.dims[:1] == (EXPERIMENT,) and var.dtype.kind == "f":
            itemsize = 4 if fmt == "netcdf" else on_disk.itemsize
        elif var.dtype.kind == "O":
            itemsize = 16
        total += var.size * itemsize
    return total


def _disk_full(err: BaseException, path: Path, tmp: Path, needed: int) -> OSError | None:
    """An OSError naming ``path`` and the space needed, if ``err`` is a full disk; else None.

    netCDF-C reports a full disk as ``NetCDF: HDF error``: that counts when the
    disk has less free space than the export needs.
    """
    code = getattr(err, "errno", None)
    free = shutil.disk_usage(path.parent).free
    if code not in _FULL and not ("HDF error" in str(err) and free < needed):
        return None
    partial = _size(tmp)
    what = (
        "the file size limit of this process was reached"
        if code == errno.EFBIG
        else "the disk is full"
    )
    return OSError(
        code if code in _FULL else errno.ENOSPC,
        f"Cannot write {str(path)!r}: {what} ({err}). The export needs up to "
        f"{needed / 1e6:,.1f} MB (uncompressed; less once compressed) and "
        f"{str(path.parent)!r} has {(free + partial) / 1e6:,.1f} MB free once the partial "
        "file is removed (it was). Free some space, export to another disk, or export "
        "less (genes=, experiments=, regions=).",
    )


def _size(path: Path) -> int:
    """Bytes of a file or a folder tree (0 if absent)."""
    with contextlib.suppress(OSError):
        if path.is_dir():
            return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        return path.stat().st_size
    return 0
