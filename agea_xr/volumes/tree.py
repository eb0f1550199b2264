"""One labelled cube: genes, cell types and lipids in one :class:`xarray.DataTree`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import xarray as xr

from .. import layout
from .. import volumes_layout as vl
from ..remote import is_url, storage_options_for
from ._files import exists, join
from .datasets import open_cell_types, open_lipids

__all__ = ["open_atlas"]


def open_atlas(
    source: str | os.PathLike | None = None,
    *,
    levels: Sequence[str] | None = None,
    variant: str = "raw",
    storage_options: Mapping[str, Any] | None = None,
) -> xr.DataTree:
    """Genes, cell types and lipids on the AGEA grid, as one DataTree.

    Parameters
    ----------
    source : str, os.PathLike or None, optional
        A folder holding iblatlas' ``agea/``, ``merfish/`` and ``lipids/`` side by
        side (its cache's ``.../Allen`` folder, or ``s3://ibl-brain-wide-map-public/
        atlas``); what is there is opened, what is not is left out. None: the
        genes from :func:`agea_xr.open_dataset` (``source=None``), the cell types
        and lipids from the local caches or the official bucket.
    levels : sequence of str, optional
        Taxonomy levels to open (default: every level present).
    variant : {"raw", "processed"}, default "raw"
        Of the genes and the cell types (the lipids have one variant).
    storage_options : mapping, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree
        ``/genes`` (:func:`agea_xr.open_dataset`), ``/cell_types/<level>``
        (:func:`agea_xr.open_cell_types`), ``/lipids`` (:func:`agea_xr.open_lipids`),
        each a lazy Dataset on the same grid.

    Raises
    ------
    FileNotFoundError
        If ``source`` holds none of the three.

    Examples
    --------
    >>> import tempfile, pathlib, agea_xr.testing as t
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = t.write_merfish(root / "merfish", ["class"]), t.write_lipids(root / "lipids")
    >>> sorted(open_atlas(root).groups)
    ['/', '/cell_types', '/cell_types/class', '/lipids']
    """
    from ..api import open_dataset

    wanted = list(vl.LEVELS if levels is None else [vl.check_level(x) for x in levels])
    nodes: dict[str, xr.Dataset] = {}
    if source is None:
        nodes["/genes"] = open_dataset(variant=variant, storage_options=storage_options)
        for level in wanted:
            nodes[f"/cell_types/{level}"] = open_cell_types(
                None, level, variant, storage_options=storage_options
            )
        nodes["/lipids"] = open_lipids(None, storage_options=storage_options)
        return xr.DataTree.from_dict(nodes)
    root = os.fspath(source)
    options = storage_options_for(root, storage_options) if is_url(root) else None
    root = root.rstrip("/") if is_url(root) else os.path.expanduser(root)
    genes = join(root, vl.AGEA_FOLDER)
    if exists(genes, layout.TABLE_FILE, options):
        nodes["/genes"] = open_dataset(genes, variant=variant, storage_options=storage_options)
    merfish = join(root, vl.MERFISH_FOLDER)
    for level in wanted:
        if exists(merfish, vl.volume_file(level), options):
            nodes[f"/cell_types/{level}"] = open_cell_types(
                merfish, level, variant, storage_options=storage_options
            )
    lipids = join(root, vl.LIPIDS_FOLDER)
    if exists(lipids, vl.LIPID_FILE, options):
        nodes["/lipids"] = open_lipids(lipids, storage_options=storage_options)
    if not nodes:
        raise FileNotFoundError(
            f"{root!r} holds none of {vl.AGEA_FOLDER}/{layout.TABLE_FILE}, "
            f"{vl.MERFISH_FOLDER}/merfish_<level>.npy, {vl.LIPIDS_FOLDER}/{vl.LIPID_FILE}: "
            "pass the folder that holds iblatlas' agea/, merfish/ and lipids/ folders."
        )
    return xr.DataTree.from_dict(nodes)
