"""Build the AGEA Dataset: coordinates, decoding, attributes and encodings.

:func:`open_dataset` is the public entry point; :func:`build_dataset` builds
the lazily indexed Dataset that the xarray backend engine ``agea`` returns.
Opening reads the parquet table, the small label and image volumes and the
binary's size, never the binary itself.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from xarray.core import indexing

from . import layout
from .encoding import attach_default_encoding
from .gene_index import GeneIndex
from .reader import ExperimentFile, ExpressionArray, is_url

__all__ = [
    "CHUNK_EXPERIMENTS",
    "EXPERIMENT_CHUNKS",
    "build_dataset",
    "open_dataset",
    "read_label",
    "read_table",
]

#: Experiments per dask chunk (10 MB of float16, 20 MB of float32).
CHUNK_EXPERIMENTS = 32
#: The default of ``chunks``: xarray's ``{}``, i.e. the backend's preferred,
#: experiment-aligned chunks (an immutable spelling of an empty mapping).
EXPERIMENT_CHUNKS: Mapping[str, int] = MappingProxyType({})


# --- small-file access, local or fsspec -------------------------------------------
def _join(folder: str, name: str) -> str:
    return f"{folder.rstrip('/')}/{name}" if is_url(folder) else os.path.join(folder, name)


def _fs(folder: str, storage_options: Mapping[str, Any] | None):
    from .remote import filesystem

    return filesystem(folder, storage_options)


def _exists(folder: str, name: str, storage_options: Mapping[str, Any] | None) -> bool:
    if not is_url(folder):
        return os.path.isfile(os.path.join(folder, name))
    fs, path = _fs(folder, storage_options)
    return fs.isfile(f"{path.rstrip('/')}/{name}")


def _read_bytes(folder: str, name: str, storage_options: Mapping[str, Any] | None) -> bytes:
    if not is_url(folder):
        return Path(folder, name).read_bytes()
    fs, path = _fs(folder, storage_options)
    return fs.cat_file(f"{path.rstrip('/')}/{name}")


def _size(folder: str, name: str, storage_options: Mapping[str, Any] | None) -> int:
    if not is_url(folder):
        return os.path.getsize(os.path.join(folder, name))
    fs, path = _fs(folder, storage_options)
    return int(fs.size(f"{path.rstrip('/')}/{name}"))


def _version(folder: str, storage_options: Mapping[str, Any] | None) -> str:
    suffix = layout.VERSION_SUFFIX
    if not is_url(folder):
        names = [p.name for p in Path(folder).glob(f"*{suffix}")]
    else:
        fs, path = _fs(folder, storage_options)
        names = [p.rsplit("/", 1)[-1] for p in fs.glob(f"{path.rstrip('/')}/*{suffix}")]
    stems = sorted(n[: -len(suffix)] for n in names)
    return stems[-1] if stems else "unknown"


# --- the files --------------------------------------------------------------------
def read_table(
    folder: str | os.PathLike, storage_options: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Read and check the experiment table (``gene-expression.pqt``).

    Parameters
    ----------
    folder : str or os.PathLike
        Release folder (local path or fsspec URL).
    storage_options : mapping, optional
        fsspec options for URLs.

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment`` (int64 Allen experiment id) and ``gene`` (str), one
        row per volume of the binary, in file order.

    Raises
    ------
    FileNotFoundError
        If the table is missing.
    ValueError
        If it is not parquet, lacks the ``id``/``gene`` columns, or its ids are
        not unique integers.
    """
    folder = str(folder)
    name = layout.TABLE_FILE
    if not _exists(folder, name, storage_options):
        raise FileNotFoundError(
            f"No experiment table {name!r} in {folder!r}. An AGEA folder holds "
            f"{', '.join(layout.FILES[:3])} and {layout.VARIANTS['raw']}; get one with "
            "agea_xr.download() or use agea_xr.open_sample() for the bundled sample."
        )
    try:
        table = pd.read_parquet(io.BytesIO(_read_bytes(folder, name, storage_options)))
    except Exception as err:  # pyarrow raises several types for bad files
        raise ValueError(
            f"Cannot read {_join(folder, name)!r} as parquet ({err}). The file is damaged "
            "or not the AGEA table: download it again."
        ) from err
    missing = {layout.TABLE_ID_COLUMN, layout.TABLE_GENE_COLUMN} - set(table.columns)
    if missing:
        raise ValueError(
            f"{_join(folder, name)!r} lacks the column(s) {sorted(missing)}: it has "
            f"{list(table.columns)}, the AGEA table has 'id' and 'gene'."
        )
    try:
        ids = pd.to_numeric(table[layout.TABLE_ID_COLUMN], errors="raise").astype(np.int64)
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"The 'id' column of {_join(folder, name)!r} must hold integer Allen experiment "
            f"ids; {err}."
        ) from err
    duplicated = ids[ids.duplicated()].unique()
    if duplicated.size:
        raise ValueError(
            f"Experiment ids repeat in {_join(folder, name)!r}: {list(duplicated[:5])}. "
            "Each row must describe one distinct experiment."
        )
    symbols = table[layout.TABLE_GENE_COLUMN]
    blank = symbols.isna().to_numpy() | (symbols.astype(str).str.strip() == "").to_numpy()
    if blank.any():
        rows = np.flatnonzero(blank)
        raise ValueError(
            f"{_join(folder, name)!r} has no gene symbol in row(s) {rows[:5].tolist()} "
            f"(experiment id(s) {ids.iloc[rows[:5]].tolist()}): every experiment needs one. "
            "Fix the table or download it again."
        )
    genes = symbols.astype(str).to_numpy(dtype=object)
    return pd.DataFrame({"experiment": ids.to_numpy(), "gene": genes})


def read_volume(
    folder: str | os.PathLike,
    name: str,
    storage_options: Mapping[str, Any] | None = None,
    *,
    kind: str = "f",
) -> np.ndarray | None:
    """Read one small ``(ml, dv, ap)`` ``.npy`` volume, or None if absent.

    Parameters
    ----------
    folder : str or os.PathLike
        Release folder (local path or fsspec URL).
    name : str
        File name (``label.npy`` or ``image.npy``).
    storage_options : mapping, optional
        fsspec options for URLs.
    kind : {"i", "f"}
        Expected dtype kind: ``"i"`` for integer volumes, ``"f"`` for real ones.

    Returns
    -------
    numpy.ndarray or None

    Raises
    ------
    ValueError
        If the file is not a ``.npy`` array of shape (58, 41, 67) and the expected kind.
    """
    folder = str(folder)
    if not _exists(folder, name, storage_options):
        return None
    where = _join(folder, name)
    try:
        array = np.load(io.BytesIO(_read_bytes(folder, name, storage_options)), allow_pickle=False)
    except ValueError as err:
        raise ValueError(f"Cannot read {where!r} as a .npy array ({err}).") from err
    if array.shape != layout.GRID_SHAPE:
        raise ValueError(
            f"{where!r} has shape {array.shape}, the AGEA grid is {layout.GRID_SHAPE} "
            "(ml, dv, ap): it belongs to another atlas or resolution. Remove it or replace "
            "it with the file of the release."
        )
    kinds = "iu" if kind == "i" else "fiu"
    if array.dtype.kind not in kinds:
        raise ValueError(
            f"{where!r} has dtype {array.dtype}, expected "
            f"{'integer region indices' if kind == 'i' else 'real values'}."
        )
    return array


def read_label(
    folder: str | os.PathLike, storage_options: Mapping[str, Any] | None = None
) -> np.ndarray | None:
    """Read ``label.npy``: indices into ``iblatlas.regions.BrainRegions().id``.

    Parameters
    ----------
    folder : str or os.PathLike
        Release folder.
    storage_options : mapping, optional
        fsspec options for URLs.

    Returns
    -------
    numpy.ndarray or None
        Integer volume of shape (58, 41, 67), or None when the file is absent.
    """
    return read_volume(folder, layout.LABEL_FILE, storage_options, kind="i")


# --- the Dataset ------------------------------------------------------------------
def _check_binary(folder: str, variant: str, n_rows: int, storage_options) -> str:
    name = layout.binary_file(variant)
    where = _join(folder, name)
    if not _exists(folder, name, storage_options):
        other = "processed" if variant == "raw" else "raw"
        raise FileNotFoundError(
            f"No {variant} expression binary {name!r} in {folder!r}. Download it with "
            f"agea_xr.download(variant={variant!r}) (or `agea-xr download --variant "
            f"{variant}`), or open variant={other!r} if that is the one you have."
        )
    expected = n_rows * layout.VOLUME_BYTES
    actual = _size(folder, name, storage_options)
    if actual != expected:
        whole, rest = divmod(actual, layout.VOLUME_BYTES)
        raise ValueError(
            f"{where!r} has {actual:,} bytes, but its table lists {n_rows:,} experiments, "
            f"which need exactly {expected:,} bytes ({n_rows:,} x {layout.VOLUME_BYTES:,}; "
            f"{actual - expected:+,} bytes; the file holds {whole:,} whole volumes and "
            f"{rest:,} bytes more). The download is incomplete or the "
            "table belongs to another release: download the binary again "
            "(agea_xr.download(check=True))."
        )
    return where


def build_dataset(
    source: str | os.PathLike,
    *,
    variant: str = "raw",
    mask: bool = True,
    storage_options: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Build the lazily indexed AGEA Dataset of a release folder.

    This is what the ``agea`` xarray engine returns; most users want
    :func:`open_dataset`, which adds dask chunks and finds the local cache.

    Parameters
    ----------
    source : str or os.PathLike
        Release folder: local path or fsspec URL.
    variant : {"raw", "processed"}, default "raw"
        Which binary to open.
    mask : bool, default True
        Decode to float32, with NaN for ``-1`` in the raw variant. False gives the
        stored float16 values untouched.
    storage_options : mapping, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.Dataset
        See :func:`open_dataset`.
    """
    folder = str(source)
    if is_url(folder):
        from .remote import storage_options_for

        # anonymous for the IBL bucket and short timeouts, also through xr.open_dataset
        storage_options = storage_options_for(folder, storage_options)
    else:
        folder = os.fspath(Path(folder).expanduser())
        if os.path.isfile(folder):
            raise NotADirectoryError(
                f"{folder!r} is a file; pass the folder that holds it "
                f"({os.path.dirname(folder)!r}): an AGEA release is a folder of "
                f"{', '.join(layout.FILES[:3])} and the binaries."
            )
        if not os.path.isdir(folder):
            raise FileNotFoundError(
                f"AGEA folder {folder!r} does not exist. Pass the folder holding "
                f"{layout.TABLE_FILE} and {layout.VARIANTS['raw']}, call agea_xr.download() "
                "to fetch the release, or agea_xr.open_sample() for the bundled sample."
            )
    binary_name = layout.binary_file(variant)  # validates variant first
    if not isinstance(mask, (bool, np.bool_)):
        raise TypeError(
            f"mask must be True or False, not {mask!r}: True decodes to float32 with NaN "
            "for missing values, False returns the stored float16 values."
        )
    table = read_table(folder, storage_options)
    binary = _check_binary(folder, variant, len(table), storage_options)
    label = read_label(folder, storage_options)
    image = read_volume(folder, layout.IMAGE_FILE, storage_options, kind="f")

    decode = bool(mask)
    masked = decode and variant == "raw"
    array = ExpressionArray(
        ExperimentFile(binary, len(table), storage_options), decode=decode, mask=masked
    )
    attrs = {
        "long_name": "ISH gene expression energy",
        "units": "1",
        "comment": (
            "Allen expression energy (sum of expressing pixel intensities over all pixels "
            "of the 200 um voxel)."
        ),
    }
    if variant == "raw":
        attrs["comment"] += (
            " NaN: no measurement (-1 in the raw file)."
            if masked
            else " -1 means no measurement (undecoded raw float16 values)."
        )
    else:
        attrs["comment"] += (
            " IBL-processed: hemispheres merged, PPCA-imputed, curtaining corrected; "
            "no missing values, may be negative."
        )
    expression = xr.Variable(layout.DIMS, indexing.LazilyIndexedArray(array), attrs)
    expression.encoding = {
        "preferred_chunks": {
            layout.EXPERIMENT: CHUNK_EXPERIMENTS,
            **dict(zip(layout.GRID_DIMS, layout.GRID_SHAPE, strict=True)),
        },
        "source": binary,
    }

    coords: dict[str, Any] = {
        layout.EXPERIMENT: (
            layout.EXPERIMENT,
            table["experiment"].to_numpy(),
            {"long_name": "Allen ISH experiment (SectionDataSet) id"},
        ),
        "gene": (
            layout.EXPERIMENT,
            table["gene"].to_numpy(dtype=object),
            {"long_name": "gene symbol (MGI)"},
        ),
    }
    for dim, values in layout.coords().items():
        coords[dim] = (dim, values, dict(layout.COORD_ATTRS[dim]))

    data_vars: dict[str, Any] = {"expression": expression}
    if label is not None:
        data_vars["label"] = (
            layout.GRID_DIMS,
            label,
            {
                "long_name": "brain region index into iblatlas BrainRegions (lateralised)",
                "comment": "iblatlas.regions.BrainRegions().id[label] is the Allen region id; "
                "left-hemisphere voxels point at negative ids.",
            },
        )
    if image is not None:
        data_vars["image"] = (
            layout.GRID_DIMS,
            image,
            {"long_name": "Allen template image averaged onto the 200 um grid", "units": "1"},
        )
    ds = xr.Dataset(data_vars, coords=coords)
    ds = ds.set_xindex("gene", GeneIndex)
    ds.attrs = {
        "title": "Allen Gene Expression Atlas (AGEA), IBL release",
        "source": folder,
        "variant": variant,
        "binary": binary_name,
        "data_version": _version(folder, storage_options),
        "voxel_size_um": layout.RESOLUTION_UM,
        "coordinate_convention": (
            "metres from bregma, IBL convention: ml right positive, ap anterior positive, "
            "dv dorsal positive"
        ),
        "citation": layout.CITATION,
        "Conventions": "CF-1.10",
    }
    return attach_default_encoding(ds)


def open_dataset(
    source: str | os.PathLike | None = None,
    *,
    variant: str = "raw",
    chunks: Any = EXPERIMENT_CHUNKS,
    mask: bool = True,
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
    mask : bool, default True
        Decode ``expression`` to float32 with NaN where the raw value is ``-1``
        (processed: float32, nothing masked). False returns the stored float16.
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
        from .cache import ensure

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
            mask=mask,
            storage_options=storage_options,
        )
