"""Where the cell-type and lipid files are, and their small files (tables, type ids).

Every remote read here goes through :func:`agea_xr.remote.connection_errors`, as
the genes' do: a network failure is a :class:`ConnectionError` (or a missing
credential a :class:`PermissionError`) that names the URL, never a missing file;
a bucket that does not exist says so.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import layout
from .. import volumes_layout as vl
from ..release import read_label
from ..remote import (
    connection_errors,
    filesystem,
    is_missing_bucket,
    is_url,
    missing_bucket_message,
    probe,
    storage_options_for,
)
from ._npy import read_small_npy

__all__ = [
    "exists",
    "fetch_hint",
    "find_folder",
    "grid_label",
    "join",
    "network",
    "read_bytes",
    "read_ids",
    "read_table",
    "require",
]

#: Set to a non-empty value other than "0": never read the official bucket by default.
_OFFLINE_ENV = "AGEA_XR_OFFLINE"


def join(folder: str, name: str) -> str:
    """``folder/name`` for a path or a URL."""
    return f"{folder.rstrip('/')}/{name}" if is_url(folder) else os.path.join(folder, name)


def fetch_hint(kind: str, level: str | None = None, *, check: bool = False) -> str:
    """The call that puts the files of ``kind`` (a level's, or the lipids') in the cache.

    Examples
    --------
    >>> fetch_hint("merfish", "class", check=True)
    "agea_xr.download(cell_types='class', check=True)"
    """
    what = "lipids=True" if kind == vl.LIPIDS_FOLDER else f"cell_types={level or 'LEVEL'!r}"
    return f"agea_xr.download({what}{', check=True' if check else ''})"


@contextlib.contextmanager
def network(url: str, options: Mapping[str, Any] | None) -> Iterator[None]:
    """Network failures inside the block as the genes' errors, naming ``url``.

    Raises
    ------
    ConnectionError, PermissionError
        As :func:`agea_xr.remote.connection_errors`.
    FileNotFoundError
        If the bucket of ``url`` does not exist (the message says so).
    """
    if not is_url(url):
        yield
        return
    with connection_errors(url, options):
        try:
            yield
        except FileNotFoundError as err:
            if is_missing_bucket(err):
                raise FileNotFoundError(missing_bucket_message(url, options or {})) from err
            raise


def exists(folder: str, name: str, options: Mapping[str, Any] | None) -> bool:
    """Whether ``folder`` holds the file ``name``.

    Raises
    ------
    ConnectionError, PermissionError
        If a remote folder cannot be reached or read (never taken for "absent").
    FileNotFoundError
        If the bucket of a remote folder does not exist.
    """
    if not is_url(folder):
        return os.path.isfile(os.path.join(folder, name))
    with network(join(folder, name), options):
        fs, path = filesystem(folder, options)
        try:  # fsspec's isfile() answers False for any failure, the network's too
            return fs.info(f"{path.rstrip('/')}/{name}").get("type") == "file"
        except FileNotFoundError as err:
            if is_missing_bucket(err):
                raise
            return False


def require(folder: str, name: str, options: Mapping[str, Any] | None, why: str) -> None:
    """Raise a FileNotFoundError naming the file and ``why`` (what it is, the remedy).

    Raises
    ------
    FileNotFoundError
        If ``folder`` lacks ``name``.
    ConnectionError, PermissionError
        As :func:`exists`.
    """
    if not exists(folder, name, options):
        raise FileNotFoundError(f"No {name!r} in {folder!r}: {why}")


def read_bytes(folder: str, name: str, options: Mapping[str, Any] | None) -> bytes:
    """The whole file ``name`` of ``folder`` (small files only).

    Raises
    ------
    ConnectionError, PermissionError
        As :func:`exists`.
    """
    if not is_url(folder):
        return Path(folder, name).read_bytes()
    with network(join(folder, name), options):
        fs, path = filesystem(folder, options)
        return fs.cat_file(f"{path.rstrip('/')}/{name}")


def read_table(
    folder: str,
    name: str,
    options: Mapping[str, Any] | None,
    columns: Sequence[str],
    remedy: str,
) -> pd.DataFrame:
    """A parquet table of ``folder``, with the ``columns`` it must have.

    Parameters
    ----------
    folder, name, options
        Where the table is.
    columns : sequence of str
        Columns it must hold.
    remedy : str
        The call that fetches it again (:func:`fetch_hint`), named in messages.

    Raises
    ------
    FileNotFoundError
        Naming the file and where to get it.
    ValueError
        Naming the file, for a damaged table (not parquet) or a missing column.
    """
    require(
        folder,
        name,
        options,
        "the folder must hold the release's tables beside the volumes (iblatlas' layout, "
        f"as in {vl.MERFISH_URL} and {vl.LIPIDS_URL}); download them: {remedy}.",
    )
    where = join(folder, name)
    data = read_bytes(folder, name, options)
    try:
        table = pd.read_parquet(io.BytesIO(data))
    except Exception as err:  # pyarrow raises several types for bad files
        raise ValueError(
            f"Cannot read {where!r} as a parquet table ({type(err).__name__}: {err}): the "
            f"file is damaged or incomplete. Download it again: {remedy}."
        ) from err
    absent = [c for c in columns if c not in table.columns]
    if absent:
        raise ValueError(
            f"{where!r} lacks the column(s) {absent} (it has {list(table.columns)}; "
            f"needed: {list(columns)}): the file is damaged or not the release's. "
            f"Download it again: {remedy}."
        )
    return table


def read_ids(folder: str, name: str, options: Mapping[str, Any] | None, remedy: str) -> np.ndarray:
    """Integer type ids of a ``*_labels.npy`` file, read without unpickling.

    Raises
    ------
    FileNotFoundError
        If the file is missing (the message says what it is and the remedy).
    ValueError
        For a damaged file, ids that are not one integer per channel, or repeated ids.
    """
    require(
        folder,
        name,
        options,
        "it lists the type id of each channel of the volume, without which the cell "
        f"types cannot be named. Download it: {remedy}.",
    )
    where = join(folder, name)
    ids = read_small_npy(read_bytes(folder, name, options), where)
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise ValueError(
            f"{where!r} holds {ids.dtype} of shape {ids.shape}; the type ids of a volume "
            f"are one integer per channel. Download it again: {remedy}."
        )
    values, counts = np.unique(ids, return_counts=True)
    repeated = values[counts > 1]
    if repeated.size:
        raise ValueError(
            f"{where!r} lists the type id(s) {repeated[:10].tolist()} more than once: each "
            "channel of the volume is one distinct type. The file is damaged or not the "
            f"release's: download it again: {remedy}."
        )
    return ids.astype(np.int64)


def _ibl_roots() -> list[Path]:
    """Local folders that may hold ``merfish/`` and ``lipids/``: agea-xr's cache, iblatlas'.

    iblatlas' folders are those ONE's configuration names, whether or not they hold
    the genes (``merfish.load_volume`` fetches the cell types alone).
    """
    from ..fetch.adopt import iblatlas_roots
    from ..fetch.location import cache_dir

    return [cache_dir(), *iblatlas_roots()]


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
    ConnectionError, PermissionError
        If a URL cannot be reached or read (one listing, as the genes' open does).
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
        url, options = text.rstrip("/"), storage_options_for(text, storage_options)
        probe(url, options)  # unreachable: a clear error now, not "no such file" later
        return url, options
    folder = os.fspath(Path(text).expanduser())
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"{kind} folder {folder!r} does not exist. Pass a folder in iblatlas' layout "
            f"(holding {', '.join(needed)}), the URL {url}, or None."
        )
    return folder, None


def grid_label(
    folder: str, options: Mapping[str, Any] | None, remedy: str
) -> tuple[np.ndarray, str]:
    """The AGEA label volume for these volumes, and where it came from.

    The sibling ``agea/label.npy`` of the folder (iblatlas' layout: ``merfish/``,
    ``lipids/`` and ``agea/`` side by side, locally and in the bucket), else, only
    when that file is absent, the bundled sample's label (the same 200 um grid).
    ``remedy`` (:func:`fetch_hint`) is named if the file is damaged.

    Raises
    ------
    ValueError
        If the sibling ``label.npy`` is there but damaged (not a ``.npy`` array,
        another shape, not integers, values that are no region indices): it is
        never silently replaced.
    ConnectionError, PermissionError
        If a remote sibling cannot be reached or read.
    """
    parent = folder.rstrip("/").rsplit("/", 1)[0] if is_url(folder) else os.path.dirname(folder)
    sibling = join(parent, vl.AGEA_FOLDER)
    where = join(sibling, layout.LABEL_FILE)
    label = None
    if (is_url(sibling) or os.path.isdir(sibling)) and exists(sibling, layout.LABEL_FILE, options):
        try:
            with network(where, options):
                label = read_label(sibling, options)
        except ValueError as err:
            raise ValueError(
                f"{err} (The grid label beside {folder!r}, which gives the volumes their "
                f"regions. Download it again: {remedy} fetches it into the cache; or "
                "remove it to use the bundled sample's label of the same grid.)"
            ) from err
    if label is not None:
        return label, where
    from ..sample import sample_path

    return read_label(os.fspath(sample_path())), "the bundled sample's label.npy"
