"""Where the cache is and what it records: folder, manifest, lock, version marker.

The cache is one folder (:func:`cache_dir`) holding the release files, their
``<date>.version`` marker and a manifest, ``agea-xr-manifest.json``, that records
for every file its size, sha256, how it was verified, the release version, the
source URL and the time. Everything agea-xr writes here is created without
following links (:func:`agea_xr._files.open_new`), and the manifest is replaced
atomically (:func:`agea_xr._files.safe_write`), so a link planted in the cache
folder never makes a download write elsewhere.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import layout
from .._files import open_new, remove, safe_write

__all__ = [
    "CACHE_ENV",
    "LOCAL_COPY",
    "LOCK_FILE",
    "MANIFEST_FILE",
    "OFFLINE_ENV",
    "cache_dir",
    "file_stat",
    "folder_version",
    "lock",
    "needed",
    "now",
    "read_manifest",
    "write_manifest",
    "write_version_marker",
]

#: Environment variable that overrides the cache folder.
CACHE_ENV = "AGEA_XR_CACHE"
#: Environment variable: when set (to anything but "" or "0"), ``open_dataset()``
#: without a source never downloads; it uses the cache or says how to fill it.
OFFLINE_ENV = "AGEA_XR_OFFLINE"
#: The manifest inside the cache folder.
MANIFEST_FILE = "agea-xr-manifest.json"
#: The lock file inside the cache folder.
LOCK_FILE = ".agea-xr.lock"
#: ``source`` recorded for files found in the cache folder but not downloaded by agea-xr.
LOCAL_COPY = "local copy"
MANIFEST_FORMAT = 1

logger = logging.getLogger(__name__)


def cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder agea_xr keeps the release in.

    Parameters
    ----------
    cache_dir : str or os.PathLike, optional
        Explicit folder; wins over everything.

    Returns
    -------
    pathlib.Path
        ``cache_dir``, else ``$AGEA_XR_CACHE``, else the per-user cache folder
        (``~/.cache/agea-xr`` on Linux). Not created.

    Raises
    ------
    NotADirectoryError
        If the chosen path exists and is not a folder (the message says where the
        path came from and how to choose another).

    Examples
    --------
    >>> cache_dir("/data/agea").as_posix()
    '/data/agea'
    """
    if cache_dir is not None:
        folder, origin = Path(cache_dir).expanduser(), "cache_dir"
        remedy = "pass a folder (it is created if absent)"
    elif os.environ.get(CACHE_ENV):
        folder, origin = Path(os.environ[CACHE_ENV]).expanduser(), f"${CACHE_ENV}"
        remedy = f"set {CACHE_ENV} to a folder (it is created if absent), or unset it"
    else:
        import platformdirs

        folder = Path(platformdirs.user_cache_dir("agea-xr", appauthor=False))
        origin = "the per-user cache folder"
        remedy = f"move that file away, or set {CACHE_ENV} to a folder"
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(
            f"The cache folder {str(folder)!r} (from {origin}) is a file, not a folder: {remedy}."
        )
    return folder


# --- the manifest ------------------------------------------------------------------
def _damaged(path: Path, what: str) -> ValueError:
    return ValueError(
        f"The cache manifest {str(path)!r} is damaged ({what}). Delete it; the next "
        "agea_xr.download() re-verifies the files and writes a new one."
    )


def read_manifest(folder: str | os.PathLike | None = None) -> dict[str, Any]:
    """The manifest of a cache folder (an empty one if there is none).

    Parameters
    ----------
    folder : str or os.PathLike, optional
        Cache folder (default: :func:`cache_dir`).

    Returns
    -------
    dict
        ``{"format": 1, "files": {path: entry}}`` (and ``"rejected"``: files that
        failed verification); each entry has ``name``, ``size``, ``sha256``,
        ``verified``, ``version``, ``source``, ``etag``, ``time`` (and ``mtime_ns``
        for files outside the cache folder).

    Raises
    ------
    ValueError
        If the manifest exists but is not valid JSON of this format (not a mapping,
        no ``files`` mapping, or an entry that is not a mapping); the message names
        the file and says to delete it.

    Examples
    --------
    >>> import tempfile
    >>> read_manifest(tempfile.mkdtemp())
    {'format': 1, 'files': {}}
    """
    path = cache_dir(folder) / MANIFEST_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {"format": MANIFEST_FORMAT, "files": {}}
    except (ValueError, UnicodeDecodeError) as err:
        raise _damaged(path, str(err)) from err
    except IsADirectoryError as err:
        raise _damaged(path, "it is a folder") from err
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise ValueError(
            f"{str(path)!r} is not an agea-xr manifest (no 'files' mapping). Delete it; "
            "the next agea_xr.download() writes a new one."
        )
    for section in ("files", "rejected"):
        entries = data.get(section) or {}
        if not isinstance(entries, dict):
            raise _damaged(path, f"{section!r} is {type(entries).__name__}, not a mapping")
        for key, entry in entries.items():
            if not isinstance(entry, dict):
                raise _damaged(
                    path, f"the {section} entry {key!r} is {entry!r}, not a mapping of fields"
                )
    return data


def write_manifest(folder: Path, manifest: Mapping[str, Any]) -> None:
    """Replace the manifest of ``folder`` atomically (never through a link)."""
    text = json.dumps(manifest, indent=1, sort_keys=True).encode()
    with safe_write(folder / MANIFEST_FILE, overwrite=True) as tmp, open_new(tmp) as f:
        f.write(text)


def file_stat(path: Path) -> tuple[int, int] | None:
    """``(size, mtime_ns)`` of a file, None if it is absent or unreadable."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def now() -> str:
    """The current UTC time, ISO 8601 to the second (recorded with each entry)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def needed(variant: str) -> tuple[str, ...]:
    """The files a release of ``variant`` needs: table, label, image, binary."""
    return (layout.TABLE_FILE, layout.LABEL_FILE, layout.IMAGE_FILE, layout.binary_file(variant))


# --- the version marker -----------------------------------------------------------
def folder_version(folder: Path) -> str:
    """The newest ``<date>.version`` marker of a folder: a label, never an identity."""
    return layout.newest_version(p.name for p in folder.glob(f"*{layout.VERSION_SUFFIX}"))


def write_version_marker(folder: Path, version: str) -> None:
    """Leave exactly one marker, ``<version>.version``, in ``folder`` (none if unknown)."""
    keep = f"{version}{layout.VERSION_SUFFIX}"
    for old in folder.glob(f"*{layout.VERSION_SUFFIX}"):
        if old.name != keep or old.is_symlink() or not old.is_file():
            remove(old)
    marker = folder / keep
    if version != "unknown" and not marker.is_file():
        open_new(marker).close()


# --- the lock ---------------------------------------------------------------------
@contextlib.contextmanager
def lock(folder: Path) -> Iterator[None]:
    """Hold the cache folder's file lock (waiting, with a message, if another has it)."""
    import filelock

    path = folder / LOCK_FILE
    if path.is_symlink():  # never open (and truncate) whatever a planted link points at
        logger.warning("Removing the link %s (to %s): not a lock file.", path, os.readlink(path))
        remove(path)
    held = filelock.FileLock(str(path))
    try:
        held.acquire(timeout=0)
    except filelock.Timeout:
        logger.warning("Waiting for another process downloading into %s ...", folder)
        held.acquire()
    try:
        yield
    finally:
        held.release()
