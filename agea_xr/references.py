"""Virtual Zarr references over the release: any Zarr reader opens the binary in place.

:func:`references` writes a `kerchunk <https://fsspec.github.io/kerchunk/>`_
reference file (JSON, version 1): a Zarr (format 2) store whose metadata and
small coordinates are held inline and whose chunks are byte ranges of the
release's own files, where they lie (a local folder or a bucket). Each
experiment is one chunk, one range of ``gene-expression.bin`` of
:data:`agea_xr.layout.VOLUME_BYTES` (318,652) bytes, stored float16 without
compression and with ``fill_value`` ``-1``; ``label`` and ``image`` are the
arrays inside ``label.npy`` and ``image.npy`` (their bytes after the ``.npy``
header). The ``experiment``, ``gene``, ``ml``, ``dv`` and ``ap`` coordinates
and the CF attributes are those of :func:`agea_xr.open_dataset`.

So plain xarray (no agea-xr installed), or any other Zarr v2 reader, opens
the release lazily and reads one experiment with one range request::

    xr.open_dataset("agea-refs.json", engine="kerchunk")          # kerchunk installed
    xr.open_zarr("reference://", storage_options={"fo": "agea-refs.json"})  # fsspec only

xarray decodes the Zarr ``fill_value`` as ``_FillValue``: the expression
comes back as float16 with NaN where the file holds ``-1`` (the same numbers
as :func:`agea_xr.open_dataset`, which gives float32); ``mask_and_scale=False``
gives the stored float16 bits.

Why kerchunk JSON rather than Parquet references or an Icechunk repository:
4,345 chunk references make a file of about 0.6 MB, which JSON holds well;
the JSON form is the one read by most Zarr implementations outside Python
(zarrita.js' ``ReferenceStore``, GDAL's kerchunk driver that R's ``terra`` and
``stars`` use, Julia's Kerchunk.jl), and fsspec opens it with no more than
zarr installed; Icechunk is read only through its own (Python and Rust)
library.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from . import layout
from ._files import check_local, safe_write
from .conventions import update_attributes
from .remote import filesystem, is_url, normalize_url, storage_options_for

__all__ = ["references"]

#: The small volumes referenced inside their ``.npy`` files.
_VOLUMES = {"label": layout.LABEL_FILE, "image": layout.IMAGE_FILE}


def references(
    source: str | os.PathLike | None,
    out: str | os.PathLike,
    *,
    variant: str = "raw",
    target: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write kerchunk references that open the release as Zarr, in place, without agea-xr.

    Parameters
    ----------
    source : str, os.PathLike or None
        The release: a local folder, an fsspec URL (e.g.
        ``s3://ibl-brain-wide-map-public/atlas/agea``) or None for the local
        cache, as for :func:`agea_xr.open_dataset`.
    out : str or os.PathLike
        The reference file to write (local, ``*.json``).
    variant : {"raw", "processed"}, default "raw"
        The binary referenced. Raw volumes get ``fill_value`` ``-1`` (decoded
        as missing); processed ones have no fill value (``-1`` is a value there).
    target : str, optional
        The folder or URL the references point at, if not ``source``: e.g. the
        ``https://`` address of a bucket, for readers without an S3 client, or
        a copy of the release elsewhere. It must hold the same files.
    storage_options : mapping, optional
        fsspec options to read ``source`` with (the table, the ``.npy``
        headers); never written into ``out``.
    overwrite : bool, default False
        Replace an existing ``out``.

    Returns
    -------
    pathlib.Path
        ``out``. Its Zarr store has ``expression`` (experiment, ml, dv, ap;
        float16, one chunk per experiment), ``label`` and ``image`` (ml, dv,
        ap) when the release has them, and the coordinates ``experiment``,
        ``gene``, ``ml``, ``dv``, ``ap`` in metres from bregma, with the
        attributes of :func:`agea_xr.open_dataset`. Local chunks are absolute
        paths; remote ones URLs, read with the reader's ``remote_options``.

    Raises
    ------
    ValueError
        For an unknown variant, an ``out`` that does not end in ``.json``, or a
        damaged release (as :func:`agea_xr.open_dataset`).
    FileNotFoundError
        If the release or the folder of ``out`` does not exist.
    FileExistsError
        If ``out`` exists and ``overwrite`` is False.
    ImportError
        If kerchunk is not installed (``pip install 'agea-xr[viewers]'``).

    Examples
    --------
    >>> import tempfile, pathlib, xarray as xr, agea_xr
    >>> from agea_xr.sample import sample_path
    >>> refs = references(sample_path(), pathlib.Path(tempfile.mkdtemp()) / "refs.json")
    >>> ds = xr.open_zarr("reference://", storage_options={"fo": str(refs)})
    >>> pdyn = ds.expression.isel(experiment=0)
    >>> str(ds.gene.values[0]), pdyn.dtype, pdyn.encoding["chunks"]
    ('Pdyn', dtype('float16'), (1, 58, 41, 67))
    >>> ours = agea_xr.open_sample().expression.isel(experiment=0)
    >>> bool(pdyn.astype("float32").equals(ours))
    True
    """
    from .api import open_dataset

    check_local(out)
    if not str(out).lower().endswith(".json"):
        raise ValueError(
            f"Cannot write references to {str(out)!r}: end the name with .json (kerchunk "
            "JSON references, which xarray, fsspec and Zarr readers in other languages open)."
        )
    try:
        from kerchunk.utils import consolidate
    except ImportError as err:
        raise ImportError(
            "Writing references needs the kerchunk package, which is not installed: "
            "pip install 'agea-xr[viewers]' (or 'agea-xr[all]')."
        ) from err
    ds = open_dataset(source, variant=variant, chunks=None, storage_options=storage_options)
    folder = str(ds.attrs["source"])
    where = _where(folder if target is None else str(target))
    store = _metadata(ds, variant)
    # metadata and inline coordinates; the volumes' chunks are byte ranges of the release
    volumes = ("expression", *_VOLUMES)
    refs: dict[str, Any] = {
        k: v for k, v in store.items() if _is_metadata(k) or k.split("/")[0] not in volumes
    }
    binary = f"{where}/{layout.binary_file(variant)}"
    zeros = (0,) * len(layout.GRID_DIMS)
    for i in range(ds.sizes[layout.EXPERIMENT]):
        key = "expression/" + ".".join(map(str, (i, *zeros)))
        refs[key] = [binary, i * layout.VOLUME_BYTES, layout.VOLUME_BYTES]
    for name, offset in _npy_offsets(ds, folder, storage_options).items():
        nbytes = ds[name].size * ds[name].dtype.itemsize
        refs[f"{name}/" + ".".join(map(str, zeros))] = [
            f"{where}/{_VOLUMES[name]}",
            offset,
            nbytes,
        ]
    text = json.dumps(consolidate(refs), separators=(",", ":"))
    out = Path(out)
    with safe_write(out, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="ascii")
    return out


def _where(location: str) -> str:
    """The folder URL or absolute path the references point at."""
    if is_url(location):
        return normalize_url(location) if location.startswith("s3") else location.rstrip("/")
    return Path(location).expanduser().resolve().as_posix()


def _is_metadata(key: str) -> bool:
    return key.rsplit("/", 1)[-1].startswith(".z")


def _metadata(ds: xr.Dataset, variant: str) -> dict[str, Any]:
    """The Zarr v2 store of ``ds``: metadata of every array, data of the small coordinates.

    xarray writes it (so its readers decode it as they decode any Zarr store);
    the volumes stay lazy placeholders whose chunks are never written.
    """
    import dask.array as da

    from .gene_index import drop_gene_index

    skeleton = drop_gene_index(ds)
    skeleton = update_attributes(skeleton, history=f"kerchunk references to {variant} binary")
    for name in ("expression", *_VOLUMES):
        if name not in skeleton:
            continue
        var = skeleton[name].variable
        dtype = layout.RAW_DTYPE if name == "expression" else var.dtype
        chunks = (1, *layout.GRID_SHAPE) if name == "expression" else layout.GRID_SHAPE
        skeleton[name] = var.copy(data=da.empty(var.shape, chunks=chunks, dtype=dtype))
    for var in skeleton.variables.values():
        # uncompressed: every Zarr reader decodes it (strings keep their vlen-utf8 filter)
        var.encoding = {"compressors": None}
        if var.dtype.kind != "O":
            var.encoding["filters"] = None
        if var.dtype.kind == "f":
            var.encoding["_FillValue"] = None
    expression = skeleton["expression"]
    expression.encoding["chunks"] = (1, *layout.GRID_SHAPE)
    if variant == "raw":
        expression.encoding["_FillValue"] = np.float16(layout.MISSING)
    for name in _VOLUMES:
        if name in skeleton:
            skeleton[name].encoding["chunks"] = layout.GRID_SHAPE
    store: dict[str, Any] = {}
    skeleton.to_zarr(store, mode="w", zarr_format=2, compute=False, consolidated=True)
    return store


def _npy_offsets(
    ds: xr.Dataset, folder: str, storage_options: Mapping[str, Any] | None
) -> dict[str, int]:
    """Byte offset of the array in each ``.npy`` volume of ``ds`` (after its header).

    Raises
    ------
    ValueError
        If a file's header disagrees with the volume read (changed since), or
        the array is not stored in C order.
    """
    offsets = {}
    for name, file in _VOLUMES.items():
        if name not in ds:
            continue
        path = f"{folder.rstrip('/')}/{file}"
        if is_url(folder):
            fs, inner = filesystem(path, storage_options_for(folder, storage_options))
            with fs.open(inner, "rb", block_size=2**16) as f:
                head = f.read(2**16)
        else:
            with open(path, "rb") as f:
                head = f.read(2**16)
        stream = io.BytesIO(head)
        version = np.lib.format.read_magic(stream)
        read = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read(stream)
        if fortran or shape != ds[name].shape or dtype != ds[name].dtype:
            raise ValueError(
                f"Cannot reference {path!r}: its header says shape {shape}, dtype {dtype}, "
                f"{'Fortran' if fortran else 'C'} order; references need the "
                f"{ds[name].shape} {ds[name].dtype} C-order array the release was opened with."
            )
        offsets[name] = stream.tell()
    return offsets
