"""Where the cell-type and lipid files are, and their small files (tables, type ids)."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import layout
from .. import volumes_layout as vl
from ..release import read_label
from ..remote import filesystem, is_url, storage_options_for
from ._npy import read_small_npy

__all__ = ["exists", "find_folder", "grid_label", "join", "read_bytes", "read_table"]

#: Set to a non-empty value other than "0": never read the official bucket by default.
_OFFLINE_ENV = "AGEA_XR_OFFLINE"


def join(folder: str, name: str) -> str:
    """``folder/name`` for a path or a URL."""
    return f"{folder.rstrip('/')}/{name}" if is_url(folder) else os.path.join(folder, name)


def exists(folder: str, name: str, options: Mapping[str, Any] | None) -> bool:
    """Whether ``folder`` holds the file ``name``."""
    if not is_url(folder):
        return os.path.isfile(os.path.join(folder, name))
    fs, path = filesystem(folder, options)
    return fs.isfile(f"{path.rstrip('/')}/{name}")


def read_bytes(folder: str, name: str, options: Mapping[str, Any] | None) -> bytes:
    """The whole file ``name`` of ``folder`` (small files only)."""
    if not is_url(folder):
        return Path(folder, name).read_bytes()
    fs, path = filesystem(folder, options)
    return fs.cat_file(f"{path.rstrip('/')}/{name}")


def read_table(folder: str, name: str, options: Mapping[str, Any] | None) -> pd.DataFrame:
    """A parquet table of ``folder``.

    Raises
    ------
    FileNotFoundError
        Naming the file and where to get it.
    """
    if not exists(folder, name, options):
        raise FileNotFoundError(
            f"No {name!r} in {folder!r}: the folder must hold the release's tables beside "
            f"the volumes (iblatlas' layout, as in {vl.MERFISH_URL} and {vl.LIPIDS_URL})."
        )
    return pd.read_parquet(io.BytesIO(read_bytes(folder, name, options)))


def read_ids(folder: str, name: str, options: Mapping[str, Any] | None) -> np.ndarray:
    """Integer type ids of a ``*_labels.npy`` file, read without unpickling."""
    if not exists(folder, name, options):
        raise FileNotFoundError(f"No {name!r} in {folder!r}: it lists the volume's type ids.")
    ids = read_small_npy(read_bytes(folder, name, options), join(folder, name))
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise ValueError(
            f"{join(folder, name)!r} holds {ids.dtype} of shape {ids.shape}; the type ids "
            "of a volume are one integer per channel."
        )
    return ids.astype(np.int64)


def _ibl_roots() -> list[Path]:
    """Local folders that may hold ``merfish/`` and ``lipids/``: agea-xr's cache, iblatlas'."""
    from ..fetch.adopt import iblatlas_cache
    from ..fetch.location import cache_dir

    roots = [cache_dir()]
    ibl = iblatlas_cache()
    if ibl is not None:
        roots.append(ibl.parent)
    return roots


def find_folder(
    source: str | os.PathLike | None,
    kind: str,
    needed: tuple[str, ...],
    storage_options: Mapping[str, Any] | None,
) -> tuple[str, dict[str, Any] | None]:
    """The folder to read and its storage options.

    Parameters
    ----------
    source : str, os.PathLike or None
        A folder or URL; None looks in agea-xr's cache (``<cache>/<kind>``, where
        :func:`agea_xr.download` puts them) and iblatlas' (read only) for a ``kind``
        folder holding ``needed``, else reads the official bucket by byte ranges
        (unless ``$AGEA_XR_OFFLINE`` is set).
    kind : {"merfish", "lipids"}

    Raises
    ------
    FileNotFoundError
        For a local folder that does not exist, or nothing found offline.
    """
    url = vl.MERFISH_URL if kind == vl.MERFISH_FOLDER else vl.LIPIDS_URL
    if source is None:
        for root in _ibl_roots():
            folder = root / kind
            if all((folder / name).is_file() for name in needed):
                return os.fspath(folder), None
        if os.environ.get(_OFFLINE_ENV, "") not in ("", "0"):
            fetch = "lipids=True" if kind == vl.LIPIDS_FOLDER else "cell_types=LEVEL"
            raise FileNotFoundError(
                f"No local {kind!r} folder holds {', '.join(needed)} and {_OFFLINE_ENV} is "
                f"set: download them into the cache with agea_xr.download({fetch}), pass "
                f"source= a folder in iblatlas' layout, or unset {_OFFLINE_ENV} to read {url} "
                "by byte ranges."
            )
        source = url
    text = os.fspath(source)
    if is_url(text):
        return text.rstrip("/"), storage_options_for(text, storage_options)
    folder = os.fspath(Path(text).expanduser())
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"{kind} folder {folder!r} does not exist. Pass a folder in iblatlas' layout "
            f"(holding {', '.join(needed)}), the URL {url}, or None."
        )
    return folder, None


def grid_label(folder: str, options: Mapping[str, Any] | None) -> tuple[np.ndarray, str]:
    """The AGEA label volume for these volumes, and where it came from.

    The sibling ``agea/label.npy`` of the folder (iblatlas' layout: ``merfish/``,
    ``lipids/`` and ``agea/`` side by side, locally and in the bucket), else the
    bundled sample's label (the same 200 um grid).
    """
    parent = folder.rstrip("/").rsplit("/", 1)[0] if is_url(folder) else os.path.dirname(folder)
    sibling = join(parent, vl.AGEA_FOLDER)
    try:
        label = read_label(sibling, options)
    except (OSError, ValueError):
        label = None
    if label is not None:
        return label, join(sibling, layout.LABEL_FILE)
    from ..sample import sample_path

    return read_label(os.fspath(sample_path())), "the bundled sample's label.npy"
