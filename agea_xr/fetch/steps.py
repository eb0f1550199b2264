"""The steps every filling of the cache shares: the report, listing, re-check, transfer.

:func:`agea_xr.fetch.sync` (the AGEA release) and
:func:`agea_xr.fetch.sync_volumes` (the MERFISH cell-type and lipid files) are
each a sequence of these steps over their own files: list the source folder
(:func:`listing`), re-hash what the manifest records (:func:`recheck`), keep
the files that are current (:func:`current_files`), and fetch the others, one
resumable, verified transfer each, recorded in the manifest as soon as it is
verified (:func:`fetch_recorded`). All of them run under the cache's lock, with
the manifest read once by the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import layout
from .._files import remove
from . import hashes
from .location import file_stat, now, write_manifest
from .plan import UNVERIFIED, download_action, expected_sha256

__all__ = [
    "CacheReport",
    "current_files",
    "fetch_recorded",
    "listing",
    "recheck",
    "unverified",
]

logger = logging.getLogger(__name__)


@dataclass
class CacheReport:
    """What :func:`sync` found and did.

    Attributes
    ----------
    folder : pathlib.Path
        The folder holding the verified release (the cache, or iblatlas' copy).
    source : str
        The release URL.
    version : str
        The release version (its ``<date>.version`` marker).
    downloaded : list of str
        Files transferred now.
    current : list of str
        Files already in the cache and current.
    checked : list of str
        Files whose sha256 was re-verified (``check=True``).
    removed : list of str
        Files that failed re-verification and were removed (or, outside the
        cache folder, no longer used).
    unverified : list of str
        Files in use whose content could not be verified against the server (a
        multipart ETag whose part size is not found): kept, never counted as verified.
    missing : list of str
        Files of the variant the cache does not hold (``offline=True`` only: nothing
        is downloaded then).
    reused_iblatlas : bool
        Whether iblatlas' existing copy is the one in use.
    offline : bool
        Whether the source was left alone (``offline=True``).
    """

    folder: Path
    source: str
    version: str
    downloaded: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    reused_iblatlas: bool = False
    offline: bool = False

    @property
    def was_current(self) -> bool:
        """Whether nothing had to be downloaded (nor is missing)."""
        return not self.downloaded and not self.missing

    def summary(self) -> str:
        """One line per fact: checked, removed, unverified, missing, downloaded."""
        lines = []
        for label, names in (
            ("checked (sha256)", self.checked),
            ("failed verification, removed", self.removed),
            ("unverified (the server's ETag could not be checked)", self.unverified),
            ("missing (not downloaded: offline)", self.missing),
            ("downloaded", self.downloaded),
        ):
            if names:
                lines.append(f"{label}: {', '.join(names)}")
        return "\n".join(lines)


def listing(
    url: str,
    storage_options: Mapping[str, Any] | None,
    check: bool,
    report: CacheReport,
    names: Iterable[str] | None = None,
) -> Any:
    """The listing of a source folder (:func:`agea_xr.remote.list_release`).

    Raises
    ------
    ConnectionError
        If the source cannot be reached; after a ``check``, the message says what the
        local check found and how to run it alone (``offline=True``).
    """
    from ..remote import list_release

    try:
        return list_release(url, storage_options, names=None if names is None else tuple(names))
    except ConnectionError as err:
        if not check:
            raise
        raise ConnectionError(
            f"{err} The local check ran first: {report.summary() or 'nothing to check'}"
            f". Pass offline=True (`agea-xr download --check --offline`) to only "
            "check the cache."
        ) from err


def recheck(
    manifest: dict[str, Any],
    keep: Callable[[Path, Mapping[str, Any]], bool],
    own: Path,
    progress: bool,
    report: CacheReport,
) -> None:
    """Re-hash the recorded files that ``keep(path, entry)`` selects; drop those that differ.

    A file that differs from its recorded sha256 (or its published pin) is removed
    if it lies in the cache folder ``own``, else only forgotten (not ours to
    delete); either way its entry leaves the manifest and its name is added to
    ``report.removed``. Every file re-hashed is added to ``report.checked``.
    """
    for key in list(manifest["files"]):
        entry = manifest["files"][key]
        path = Path(key)
        if not keep(path, entry) or not path.is_file():
            continue
        got = hashes.hash_file(path, progress=progress, desc=path.name)
        report.checked.append(path.name)
        wrong = [e for e in expected_sha256(entry, path.name) if e != got]
        if not wrong:
            continue
        ours = path.is_relative_to(own)
        logger.warning(
            "%s failed verification: expected sha256 %s, got %s; %s.",
            path,
            wrong[0],
            got,
            "removed" if ours else "no longer used (not ours to delete)",
        )
        if ours:
            remove(path)
        del manifest["files"][key]
        report.removed.append(path.name)


def unverified(manifest: Mapping[str, Any], folder: Path, names: Iterable[str]) -> list[str]:
    """The files of ``names`` in ``folder`` recorded as :data:`~agea_xr.fetch.plan.UNVERIFIED`."""
    files = manifest["files"]
    return [n for n in names if (files.get(str(folder / n)) or {}).get("verified") == UNVERIFIED]


def current_files(
    manifest: Mapping[str, Any], folder: Path, names: Iterable[str], release: Any
) -> list[str]:
    """The files of ``names`` in ``folder`` that record the listed objects and are intact.

    Each is :func:`~agea_xr.fetch.plan.download_action`'s ``"current"``: recorded
    from the same URL and version, with the listed size and ETag, and still of the
    recorded size.
    """
    entries = manifest["files"]
    return [
        n
        for n in names
        if download_action(
            entries.get(str(folder / n)),
            file_stat(folder / n),
            release.files[n],
            release.url,
            release.version,
        )
        == "current"
    ]


def fetch_recorded(
    release: Any,
    name: str,
    folder: Path,
    root: Path,
    manifest: dict[str, Any],
    *,
    pinned: bool,
    expected_size: int | None = None,
    progress: bool = True,
) -> None:
    """Fetch one listed file into ``folder``, verified, and record it in the manifest.

    Parameters
    ----------
    release : agea_xr.remote.RemoteRelease
        The listing of the source folder holding ``name``.
    name : str
        File name.
    folder : pathlib.Path
        Where the file goes (the cache folder, or a subfolder of it).
    root : pathlib.Path
        The cache folder (its manifest is written at once).
    manifest : dict
        The manifest, updated in place.
    pinned : bool
        Whether the published sha256 and size of :data:`agea_xr.layout.PINNED` apply
        (the official release of the pinned version).
    expected_size : int, optional
        Bytes the file must have (wins over a pinned size).
    progress : bool, default True
        Show a progress bar.

    Raises
    ------
    ValueError, ChecksumError, OSError, ConnectionError
        As :func:`agea_xr.fetch.transfer.fetch_file`; nothing is recorded then.
    """
    from .transfer import fetch_file

    remote = release.files[name]
    pin_size, pin_sha = layout.PINNED.get(name, (None, None)) if pinned else (None, None)
    fetched = fetch_file(
        release.fs,
        remote,
        folder / name,
        url=f"{release.url}/{name}",
        expected_size=pin_size if expected_size is None else expected_size,
        expected_sha256=pin_sha,
        progress=progress,
    )
    key = str(folder / name)
    manifest["files"][key] = {
        "name": name,
        "size": fetched.size,
        "sha256": fetched.sha256,
        "verified": fetched.verified,
        "version": release.version,
        "source": release.url,
        "endpoint_url": release.options.get("endpoint_url"),
        "etag": remote.etag,
        "time": now(),
    }
    (manifest.get("rejected") or {}).pop(key, None)
    write_manifest(root, manifest)
