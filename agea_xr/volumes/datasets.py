"""The MERFISH cell-type and lipid volumes as lazy, labelled Datasets on the AGEA grid.

:func:`open_cell_types` and :func:`open_lipids` read the ``.npy`` header of a
volume file and then only the items asked for (one byte range per run of
items, :mod:`agea_xr.volumes._npy`), with the taxonomy or lipid table as
coordinates, the grid coordinates and indexes of the AGEA Dataset, and the
AGEA label volume, so the region tools work on them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from xarray.core import indexing

from .. import layout
from .. import volumes_layout as vl
from .._choices import check_between, check_bool, check_choice
from ..conventions import attributes, global_attributes
from ..grid_index import set_grid_indexes
from ._files import fetch_hint, find_folder, grid_label, join, read_ids, read_table, require
from ._npy import ItemArray, ItemFile

__all__ = ["CHUNK_ITEMS", "open_cell_types", "open_lipids", "taxonomy"]

#: Items per dask chunk (about 20 MB of float16 on disk, 40 MB as float32 in memory).
CHUNK_ITEMS = 64


def taxonomy(folder: str, level: str, ids: np.ndarray, options) -> pd.DataFrame:
    """Name, colour and ancestors' names of the types ``ids`` of a level.

    Returns
    -------
    pandas.DataFrame
        One row per id, in the order of ``ids``: ``type_id``, ``name``, ``color``,
        one column per ancestor level (its name), ``non_neuronal`` (the class is one
        of :data:`agea_xr.volumes_layout.NON_NEURONAL_CLASSES`), as
        ``iblatlas.genomics.merfish.is_non_neuronal`` walks the parents.

    Raises
    ------
    FileNotFoundError
        If a table is missing.
    ValueError
        Naming the table, if it is damaged (not parquet, a missing column, an index
        that is not distinct integer ids) or lacks some of ``ids``.
    """
    remedy = fetch_hint(vl.MERFISH_FOLDER, level, check=True)

    def table_of(lev: str) -> pd.DataFrame:
        parent = vl.PARENT[lev]
        columns = [lev] + ([vl.color_column(lev)] if lev == level else [])
        name = vl.TAXONOMY_TABLE[lev]
        out = read_table(folder, name, options, columns + ([parent] if parent else []), remedy)
        index = out.index
        if index.dtype.kind not in "iu" or index.has_duplicates:
            raise ValueError(
                f"{join(folder, name)!r} is not indexed by distinct integer type ids (its "
                f"index is {index.dtype}{', repeated' if index.has_duplicates else ''}): "
                f"the file is damaged or not the release's. Download it again: {remedy}."
            )
        return out

    table = table_of(level)
    missing = np.setdiff1d(ids, table.index.to_numpy())
    if missing.size:
        raise ValueError(
            f"Type ids {missing[:5].tolist()} of {vl.labels_file(level)} are not rows of "
            f"{vl.TAXONOMY_TABLE[level]} in {folder!r}: the files belong to different releases."
        )
    rows = table.loc[ids]
    names = rows[level].astype(str)
    out = pd.DataFrame(
        {
            "type_id": ids,
            "name": names.where(names != "", [f"{level} {i} (no name)" for i in ids]).to_numpy(),
            "color": rows[vl.color_column(level)].astype(str).to_numpy(),
        }
    )
    current, lev = names, level
    while (parent := vl.PARENT[lev]) is not None:
        up = table if lev == level else table_of(lev)
        lookup = up.drop_duplicates(lev).set_index(lev)[parent]
        current = current.map(lookup).fillna("").astype(str)
        out[parent] = current.to_numpy()
        lev = parent
    out["non_neuronal"] = np.isin(current.to_numpy(), vl.NON_NEURONAL_CLASSES)
    return out


def _grid_coords() -> dict[str, Any]:
    return {dim: (dim, values, attributes(dim)) for dim, values in layout.coords().items()}


def _variable(source: ItemFile, dim: str, attrs: Mapping[str, Any]) -> xr.Variable:
    var = xr.Variable(
        (dim, *layout.GRID_DIMS), indexing.LazilyIndexedArray(ItemArray(source)), dict(attrs)
    )
    # no "dtype" encoding: the file's float16 would be written back (netCDF has none);
    # "stored_dtype" is only read by describe() (writers ignore unknown encodings)
    var.encoding = {"source": source.location, "stored_dtype": str(source.dtype)}
    return var


def _chunked(ds: xr.Dataset, chunks: Any, dim: str) -> xr.Dataset:
    """Dask-chunk the item variables only, as ``chunks`` asks (``{}``: 64 items a chunk).

    The label and the item coordinates (names, ids, colours: a few thousand values)
    stay numpy, as xarray's ``open_dataset(chunks=...)`` leaves variables already in
    memory: chunked, every selection or ordering of the items (a ranked table) would
    be a dask computation of its own, thousands of tasks on a cluster.

    Raises
    ------
    ValueError
        If ``chunks`` names a dimension the dataset does not have.
    """
    if chunks is None:
        return ds
    if isinstance(chunks, Mapping):
        unknown = sorted(str(d) for d in chunks if d not in ds.dims)
        if unknown:
            raise ValueError(
                f"chunks names {unknown}, not dimensions of this dataset: use some of "
                f"{[str(d) for d in ds.dims]} (e.g. {{{dim!r}: {CHUNK_ITEMS}}})."
            )
        chunks = dict(chunks) or {dim: CHUNK_ITEMS}
    out = ds.copy(deep=False)
    for name, var in ds.data_vars.items():
        if dim in var.dims:
            wanted = (
                {d: c for d, c in chunks.items() if d in var.dims}
                if isinstance(chunks, dict)
                else chunks
            )
            # the variable alone: DataArray.chunk would chunk its (object) coordinates
            # too, and "auto" cannot size object chunks
            out[name] = var.copy(deep=False, data=var.variable.chunk(wanted).data)
    return out


def open_cell_types(
    source: str | os.PathLike | None = None,
    level: str = "subclass",
    variant: str = "raw",
    *,
    include_non_neuronal: bool | None = None,
    chunks: Any = None,
    storage_options: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Open the MERFISH cell-type densities of one taxonomy level on the AGEA grid.

    Parameters
    ----------
    source : str, os.PathLike or None, optional
        A folder in iblatlas' layout (``merfish_{level}.npy``,
        ``merfish_{level}_labels.npy`` and the taxonomy tables ``classes.pqt``, ...),
        an fsspec URL of one (``s3://ibl-brain-wide-map-public/atlas/merfish``, read
        by byte ranges: the ``.npy`` header, then only the types asked for), or None:
        agea-xr's cache or iblatlas' (read only), else the official bucket.
    level : {"class", "subclass", "supertype", "cluster"}, default "subclass"
        Taxonomy level (34, 338, 1,201 and 5,322 types).
    variant : {"raw", "processed"}, default "raw"
        ``raw``: the stored cell counts per voxel (NaN where no section reaches):
        the file's float16 values, exactly, as float32 (widened per read, lazily,
        so that means, ``to_netcdf`` and ``to_zarr`` work as for the genes).
        ``processed``: iblatlas' ``merfish.denoise_volume`` as
        ``merfish.load_volume(label="processed")`` applies it: NaN -> 0, in-brain
        voxels NaN in every type filled with Dirichlet(1, ..., 1) noise (seed 42),
        Gaussian smoothing per type (sigma 0.5 voxel), brain mask, then proportions
        (divided by the per-voxel sum over types + 1e-10); float32, lazy (dask).
    include_non_neuronal : bool, optional
        Processed variant only (True or False; a string is refused); default False:
        the non-neuronal types (classes Astro-Epen, OPC-Oligo, OEC, Vascular, Immune)
        are dropped and the volumes are proportions among neurons. The raw variant
        always keeps every type.
    chunks : dict, int, str or None, default None
        None: lazily indexed (a selection reads only its types' bytes); ``{}``: dask
        chunks of 64 types; or any xarray ``chunks`` (a mapping, an int, ``"auto"``).
        Only ``density`` is chunked: the label and the type coordinates stay in
        memory. The processed variant is always dask.
    storage_options : mapping, optional
        fsspec options for URLs (the IBL bucket is read anonymously).

    Returns
    -------
    xarray.Dataset
        ``density`` (cell_type, ml, dv, ap); ``label`` (ml, dv, ap), the AGEA region
        label; coordinates ``cell_type`` (type name, indexed), ``type_id``, ``color``
        (hex), one per ancestor level (``class``, ..., names, indexed:
        ``ct.sel({"class": "01 IT-ET Glut"})`` gives all its types), ``non_neuronal``, and
        ``ml``, ``dv``, ``ap`` in metres from bregma (the AGEA grid indexes).
        Attributes: ``citation`` (Yao et al. 2023, Zhang et al. 2023), ``license``,
        ``level``, ``variant``, ``source``.

    Raises
    ------
    ValueError
        For an unknown level or variant, a damaged file (a table that is not parquet
        or lacks a column, repeated type ids, a volume that is not floating point, a
        damaged sibling ``agea/label.npy``), or an object array; the message names
        the file and the remedy (``agea_xr.download(cell_types=level, check=True)``);
        ``chunks`` naming a dimension the dataset does not have.
    TypeError
        If ``include_non_neuronal`` is not a bool (or None).
    FileNotFoundError
        If the folder or a needed file (the volume, its type ids, a table) is
        missing: the message names the file, the level and the remedy.
    ConnectionError, PermissionError
        If a URL cannot be reached or read (the message names it, as for the genes).

    Examples
    --------
    >>> import tempfile, agea_xr.testing as t
    >>> folder = t.write_merfish(tempfile.mkdtemp(), levels=("class",))
    >>> ct = open_cell_types(folder, "class")
    >>> ct.density.dims, int(ct.non_neuronal.sum())
    (('cell_type', 'ml', 'dv', 'ap'), 5)
    """
    level = vl.check_level(level)
    variant = check_choice(variant, vl.CELL_TYPE_VARIANTS, "variant")
    check_bool(include_non_neuronal, "include_non_neuronal", allow_none=True)
    if include_non_neuronal is not None and variant == "raw":
        raise ValueError(
            "include_non_neuronal applies to variant='processed' only: the raw variant "
            "keeps every type (select them with ct.where(~ct.non_neuronal, drop=True))."
        )
    needed = vl.cell_type_files(level)  # the ancestors' tables too: their names are coords
    folder, options = find_folder(source, vl.MERFISH_FOLDER, needed, storage_options)
    remedy = fetch_hint(vl.MERFISH_FOLDER, level)
    ids = read_ids(folder, vl.labels_file(level), options, remedy)
    require(
        folder,
        vl.volume_file(level),
        options,
        f"the cell-type volume of the {level!r} level is missing (its type ids are "
        f"there). Download it: {remedy}, or pass source= a folder that holds it.",
    )
    volume = ItemFile(join(folder, vl.volume_file(level)), options)
    if volume.shape[0] != ids.size:
        raise ValueError(
            f"{volume.location!r} holds {volume.shape[0]} types but "
            f"{vl.labels_file(level)} lists {ids.size}: the files belong to different "
            f"releases. Download both again: {fetch_hint(vl.MERFISH_FOLDER, level, check=True)}."
        )
    types = taxonomy(folder, level, ids, options)
    label, label_source = grid_label(folder, options, fetch_hint(vl.MERFISH_FOLDER, level))
    coords = _grid_coords()
    columns = [c for c in types.columns if c != "name"]
    coords[vl.CELL_TYPE] = (vl.CELL_TYPE, types["name"].to_numpy(dtype=object))
    for column in columns:
        values = types[column].to_numpy()
        coords[column] = (
            vl.CELL_TYPE,
            values.astype(object) if values.dtype == object else values,
        )
    density = _variable(volume, vl.CELL_TYPE, attributes("cell_type_density"))
    ds = xr.Dataset(
        {"density": density, "label": (layout.GRID_DIMS, label, attributes("label"))},
        coords=coords,
    )
    for ancestor in (c for c in vl.LEVELS if c in types.columns):
        ds = ds.set_xindex(ancestor)  # ct.sel({"class": "01 IT-ET Glut"}): all its types
    ds.attrs = global_attributes(
        title=f"MERFISH cell-type densities ({level}) on the IBL 200 um grid",
        citation=vl.CELL_TYPE_CITATION,
        license=vl.CELL_TYPE_LICENSE,
        source=folder,
        level=level,
        variant=variant,
        label_source=label_source,
        voxel_size_um=layout.RESOLUTION_UM,
    )
    if variant == "raw":
        return _chunked(set_grid_indexes(ds), chunks, vl.CELL_TYPE)
    from ._processed import denoised

    if not include_non_neuronal:
        ds = ds.isel({vl.CELL_TYPE: np.flatnonzero(~types["non_neuronal"].to_numpy())})
    stored = ds["density"].encoding.get("stored_dtype")
    raw = ds["density"].chunk({vl.CELL_TYPE: CHUNK_ITEMS}).data
    proportions = denoised(raw, label != 0)
    ds["density"] = ((vl.CELL_TYPE, *layout.GRID_DIMS), proportions)
    ds["density"].attrs = attributes("cell_type_proportion")
    if stored is not None:  # what describe() reports as on disk: the file's dtype
        ds["density"].encoding = {"stored_dtype": stored}
    ds.attrs["include_non_neuronal"] = int(bool(include_non_neuronal))
    ds = set_grid_indexes(ds)
    return _chunked(ds, chunks, vl.CELL_TYPE)  # {}: 64 types a chunk, as denoised made them


def open_lipids(
    source: str | os.PathLike | None = None,
    min_reliability: float | None = None,
    *,
    chunks: Any = None,
    storage_options: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Open the Lipid Brain Atlas volumes (173 lipids) on the AGEA grid.

    Parameters
    ----------
    source : str, os.PathLike or None, optional
        A folder in iblatlas' layout (``lipid_volumes.npy``, ``lipids.pqt``), an
        fsspec URL of one (``s3://ibl-brain-wide-map-public/atlas/lipids``, read by
        byte ranges), or None: agea-xr's cache or iblatlas', else the official bucket.
    min_reliability : float, optional
        Keep the lipids whose ``reliability`` (voxel-wise correlation between the two
        dense brains) is at least this, as ``iblatlas.genomics.lipids.load_volume``
        (0.6 keeps 158 of 173): a real number from 0 to 1 (a string is refused).
        Only the kept lipids' bytes are ever read.
    chunks : dict, int, str or None, default None
        As for :func:`open_cell_types`.
    storage_options : mapping, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.Dataset
        ``intensity`` (lipid, ml, dv, ap) float32 log intensities as stored (NaN
        outside the brain and the sampled range); ``label``; coordinates ``lipid``
        (name, indexed), ``reliability``, ``sex_log_ratio``, ``sex_zscore``, and the
        grid. Attributes: ``citation`` (Fusar Bassini et al., Nature 2026, and the
        data DOI), ``license`` (CC-BY 4.0), ``source``.

    Raises
    ------
    ValueError
        For a damaged file (a table that is not parquet or lacks a column, a volume
        that is not floating point, a damaged sibling ``agea/label.npy``), a table
        that does not match the volume, a ``min_reliability`` outside [0, 1], or one
        that no lipid reaches (the message names the highest reliability);
        ``chunks`` naming a dimension the dataset does not have.
    TypeError
        If ``min_reliability`` is not a real number.
    FileNotFoundError
        If the folder, the volume or the table is missing (the message names the
        file and the remedy, ``agea_xr.download(lipids=True)``).
    ConnectionError, PermissionError
        If a URL cannot be reached or read (the message names it, as for the genes).

    Examples
    --------
    >>> import tempfile, agea_xr.testing as t
    >>> folder = t.write_lipids(tempfile.mkdtemp())
    >>> open_lipids(folder, min_reliability=0.6).sizes["lipid"]
    7
    """
    if min_reliability is not None:
        min_reliability = check_between(min_reliability, "min_reliability", 0, 1, "Pearson r")
    folder, options = find_folder(source, vl.LIPIDS_FOLDER, vl.LIPID_FILES, storage_options)
    remedy = fetch_hint(vl.LIPIDS_FOLDER, check=True)
    table = read_table(folder, vl.LIPID_TABLE, options, vl.LIPID_COLUMNS, remedy)
    odd = [c for c in vl.LIPID_COLUMNS[1:] if not pd.api.types.is_numeric_dtype(table[c])]
    if odd:
        raise ValueError(
            f"{join(folder, vl.LIPID_TABLE)!r} holds non-numeric values in {odd} (dtypes "
            f"{[str(table[c].dtype) for c in odd]}): the file is damaged or not the "
            f"release's. Download it again: {remedy}."
        )
    require(
        folder,
        vl.LIPID_FILE,
        options,
        "the lipid volume is missing (its table is there). Download it: "
        f"{fetch_hint(vl.LIPIDS_FOLDER)}, or pass source= a folder that holds it.",
    )
    volume = ItemFile(join(folder, vl.LIPID_FILE), options)
    if volume.shape[0] != len(table):
        raise ValueError(
            f"{volume.location!r} holds {volume.shape[0]} lipids but {vl.LIPID_TABLE} has "
            f"{len(table)} rows: the files belong to different releases. Download both "
            f"again: {remedy}."
        )
    label, label_source = grid_label(folder, options, fetch_hint(vl.LIPIDS_FOLDER))
    coords = _grid_coords()
    coords[vl.LIPID] = (vl.LIPID, table["lipid"].astype(str).to_numpy(dtype=object))
    for column in vl.LIPID_COLUMNS[1:]:
        coords[column] = (vl.LIPID, table[column].to_numpy())
    ds = xr.Dataset(
        {
            "intensity": _variable(volume, vl.LIPID, attributes("lipid_intensity")),
            "label": (layout.GRID_DIMS, label, attributes("label")),
        },
        coords=coords,
    )
    ds.attrs = global_attributes(
        title="Lipid Brain Atlas log intensities on the IBL 200 um grid",
        citation=vl.LIPID_CITATION,
        license=vl.LIPID_LICENSE,
        source=folder,
        label_source=label_source,
        voxel_size_um=layout.RESOLUTION_UM,
    )
    if min_reliability is not None:
        reliability = table["reliability"].to_numpy(dtype=np.float64)
        # reliabilities are given to 2 decimals: a float32 0.6 (0.6000000238) keeps 0.60
        keep = np.flatnonzero(reliability >= min_reliability - 1e-6)
        if not keep.size:
            best = int(np.nanargmax(reliability)) if np.isfinite(reliability).any() else None
            highest = (
                "none is a number"
                if best is None
                else f"the highest is {reliability[best]:.3g} ({table['lipid'].iloc[best]})"
            )
            raise ValueError(
                f"No lipid reaches min_reliability={min_reliability:g} in "
                f"{join(folder, vl.LIPID_TABLE)!r}: {highest}. Pass a lower value "
                "(iblatlas' default is 0.6), or None for every lipid."
            )
        ds = ds.isel({vl.LIPID: keep})
        ds.attrs["min_reliability"] = min_reliability
    return _chunked(set_grid_indexes(ds), chunks, vl.LIPID)
