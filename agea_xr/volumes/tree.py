"""One labelled cube: genes, cell types and lipids in one :class:`xarray.DataTree`."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
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
    levels: str | Sequence[str] | None = None,
    variant: str = "raw",
    storage_options: Mapping[str, Any] | None = None,
) -> xr.DataTree:
    """Genes, cell types and lipids on the AGEA grid, as one DataTree.

    Parameters
    ----------
    source : str, os.PathLike or None, optional
        A folder holding iblatlas' ``agea/``, ``merfish/`` and ``lipids/`` side by
        side (its cache's ``.../Allen`` folder, or ``s3://ibl-brain-wide-map-public/
        atlas``). None: the genes from :func:`agea_xr.open_dataset` (``source=None``),
        the cell types and lipids from the local caches or the official bucket.
        Either way, what is there is opened and what is not is left out (the root's
        ``attrs["not_found"]`` names it).
    levels : str or sequence of str, optional
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
        each a lazy Dataset on the same grid. The root's ``attrs["not_found"]``
        lists those that were not found (e.g. ``"genes, cell_types/cluster"``).

    Raises
    ------
    FileNotFoundError
        If none of the three is found.
    ValueError
        For an unknown level or variant, or an empty list of levels.
    ConnectionError, PermissionError
        If a URL cannot be reached or read (a network failure is not "not found").

    Examples
    --------
    >>> import tempfile, pathlib, agea_xr.testing as t
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = t.write_merfish(root / "merfish", ["class"]), t.write_lipids(root / "lipids")
    >>> tree = open_atlas(root)
    >>> sorted(tree.groups)
    ['/', '/cell_types', '/cell_types/class', '/lipids']
    >>> tree.attrs["not_found"]
    'genes, cell_types/subclass, cell_types/supertype, cell_types/cluster'
    """
    from ..api import open_dataset
    from ..fetch.volumes import check_levels

    wanted = list(vl.LEVELS) if levels is None else check_levels(levels)
    nodes: dict[str, xr.Dataset] = {}
    not_found: list[str] = []

    def add(name: str, present: bool, opener: Callable[[], xr.Dataset]) -> None:
        if not present:
            not_found.append(name)
            return
        try:
            nodes[f"/{name}"] = opener()
        except FileNotFoundError:
            if source is not None:
                raise  # the folder holds the file: what it lacks beside it is an error
            not_found.append(name)

    if source is None:
        add("genes", True, lambda: open_dataset(variant=variant, storage_options=storage_options))
        for level in wanted:
            add(
                f"cell_types/{level}",
                True,
                lambda lev=level: open_cell_types(
                    None, lev, variant, storage_options=storage_options
                ),
            )
        add("lipids", True, lambda: open_lipids(None, storage_options=storage_options))
        where = "the local caches, or the official bucket"
    else:
        root = os.fspath(source)
        options = storage_options_for(root, storage_options) if is_url(root) else None
        root = root.rstrip("/") if is_url(root) else os.path.expanduser(root)
        genes = join(root, vl.AGEA_FOLDER)
        add(
            "genes",
            exists(genes, layout.TABLE_FILE, options),
            lambda: open_dataset(genes, variant=variant, storage_options=storage_options),
        )
        merfish = join(root, vl.MERFISH_FOLDER)
        for level in wanted:
            add(
                f"cell_types/{level}",
                exists(merfish, vl.volume_file(level), options),
                lambda lev=level: open_cell_types(
                    merfish, lev, variant, storage_options=storage_options
                ),
            )
        lipids = join(root, vl.LIPIDS_FOLDER)
        add(
            "lipids",
            exists(lipids, vl.LIPID_FILE, options),
            lambda: open_lipids(lipids, storage_options=storage_options),
        )
        where = repr(root)
    if not nodes:
        raise FileNotFoundError(
            f"None of {vl.AGEA_FOLDER}/{layout.TABLE_FILE}, "
            f"{vl.MERFISH_FOLDER}/merfish_<level>.npy, {vl.LIPIDS_FOLDER}/{vl.LIPID_FILE} "
            f"was found in {where}: pass the folder that holds iblatlas' agea/, merfish/ "
            "and lipids/ folders, or download them first (agea_xr.download(), "
            "agea_xr.download(cell_types=LEVEL, lipids=True))."
        )
    tree = xr.DataTree.from_dict(nodes)
    if not_found:
        tree.attrs["not_found"] = ", ".join(not_found)
    return tree
