"""The local cache of the AGEA release: where it is, what it holds, how it is filled.

The cache is one folder (:func:`cache_dir`) holding the release files, their
``<date>.version`` marker and a manifest, ``agea-xr-manifest.json``, that records
for every file its size, sha256, how it was verified, the release version, the
source URL and the time. Opening trusts the manifest and the file sizes (no
1.4 GB re-hash on every open); ``download(check=True)`` re-hashes on demand.

:func:`download` fetches only what a variant needs, resumably and verified
(see :mod:`agea_xr.transfer`), under a file lock so that two processes filling
the same cache never corrupt it. An existing iblatlas copy
(``<ONE cache>/histology/ATLAS/Needles/Allen/agea``) is reused when it holds
valid files; it is found by reading ONE's configuration file, read-only, and
nothing is ever written outside the cache folder.

Content, never a ``<date>.version`` marker, decides whether a copy that
agea-xr did not download is the release: the published sha256 pins for the
pinned version; otherwise a sha256 recorded in the manifest for the same
remote object, or the bucket's ETag (MD5). Each such file is hashed once and
the result (accepted or refused) recorded, so nothing is re-hashed on every open.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import layout
from .transfer import ChecksumError

__all__ = [
    "CACHE_ENV",
    "MANIFEST_FILE",
    "OFFLINE_ENV",
    "CacheReport",
    "ChecksumError",
    "cache_dir",
    "cached_source",
    "download",
    "ensure",
    "iblatlas_cache",
    "read_manifest",
    "sync",
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

    Examples
    --------
    >>> cache_dir("/data/agea").as_posix()
    '/data/agea'
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("agea-xr", appauthor=False))


_cache_dir = cache_dir


# --- the manifest ------------------------------------------------------------------
def read_manifest(folder: str | os.PathLike | None = None) -> dict[str, Any]:
    """The manifest of a cache folder (an empty one if there is none).

    Parameters
    ----------
    folder : str or os.PathLike, optional
        Cache folder (default: :func:`cache_dir`).

    Returns
    -------
    dict
        ``{"format": 1, "files": {path: entry}}``; each entry has ``name``,
        ``size``, ``sha256``, ``verified``, ``version``, ``source``, ``etag``,
        ``time`` (and ``mtime_ns`` for files outside the cache folder).

    Raises
    ------
    ValueError
        If the manifest exists but is not valid JSON of this format.

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
    except ValueError as err:
        raise ValueError(
            f"The cache manifest {str(path)!r} is damaged ({err}). Delete it; the next "
            "agea_xr.download() re-verifies the files and writes a new one."
        ) from err
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise ValueError(
            f"{str(path)!r} is not an agea-xr manifest (no 'files' mapping). Delete it; "
            "the next agea_xr.download() writes a new one."
        )
    return data


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    tmp = folder / f".{MANIFEST_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, folder / MANIFEST_FILE)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _entry_valid(path: Path, entry: Mapping[str, Any], own: Path) -> bool:
    """Trust a recorded file: it exists with its recorded size (and mtime if not ours)."""
    try:
        stat = path.stat()
    except OSError:
        return False
    if stat.st_size != entry.get("size"):
        return False
    return path.parent == own or entry.get("mtime_ns") == stat.st_mtime_ns


def _needed(variant: str) -> tuple[str, ...]:
    return (layout.TABLE_FILE, layout.LABEL_FILE, layout.IMAGE_FILE, layout.binary_file(variant))


def _complete_folder(manifest: dict[str, Any], variant: str, own: Path) -> Path | None:
    """A folder whose recorded files make a consistent release of ``variant``."""
    by_folder: dict[Path, dict[str, Mapping[str, Any]]] = {}
    for key, entry in manifest["files"].items():
        path = Path(key)
        by_folder.setdefault(path.parent, {})[path.name] = entry
    folders = sorted(by_folder, key=lambda p: p != own)
    for folder in folders:
        entries = by_folder[folder]
        required = (layout.TABLE_FILE, layout.binary_file(variant))
        if not all(name in entries for name in required):
            continue
        names = [n for n in _needed(variant) if n in entries]
        if len({(entries[n].get("version"), entries[n].get("source")) for n in names}) != 1:
            continue
        if all(_entry_valid(folder / n, entries[n], own) for n in names):
            return folder
    return None


# --- iblatlas' cache, found read-only ----------------------------------------------
def iblatlas_cache() -> Path | None:
    """iblatlas' AGEA folder, if ONE is configured on this machine and the folder exists.

    ONE's configuration file (``~/.one/.caches``, ``%APPDATA%/.one/.caches`` on
    Windows) maps each database to a cache folder; iblatlas keeps the release in
    ``<that folder>/histology/ATLAS/Needles/Allen/agea``. The file is only read:
    unlike ``one.params.get()``, this creates nothing.

    Returns
    -------
    pathlib.Path or None
        The first such folder holding ``gene-expression.pqt`` (the default
        database's first), or None.

    Examples
    --------
    >>> folder = iblatlas_cache()
    >>> folder is None or folder.name == "agea"
    True
    """
    if sys.platform in ("win32", "cygwin"):
        base = Path(os.environ.get("APPDATA", Path.home()))
    else:
        base = Path.home()
    try:
        config = json.loads((base / ".one" / ".caches").read_text())
        client_map = dict(config.get("CLIENT_MAP") or {})
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    default = config.get("DEFAULT")
    roots = [client_map.pop(default)] if default in client_map else []
    roots += list(client_map.values())
    for root in roots:
        if not isinstance(root, str):
            continue
        folder = Path(root).expanduser().joinpath(*layout.IBLATLAS_CACHE_SUBDIR)
        if (folder / layout.TABLE_FILE).is_file():
            return folder
    return None


def _folder_version(folder: Path) -> str:
    """The newest ``<date>.version`` marker of a folder: a label, never an identity."""
    stems = sorted(p.name[: -len(layout.VERSION_SUFFIX)] for p in folder.glob("*.version"))
    return stems[-1] if stems else "unknown"


def _rejected_before(rejected: Mapping[str, Any], path: Path) -> bool:
    """Whether ``path`` failed verification before and has not changed since."""
    record = rejected.get(str(path))
    if not record:
        return False
    stat = path.stat()
    return record.get("size") == stat.st_size and record.get("mtime_ns") == stat.st_mtime_ns


def _adopt(
    folder: Path,
    variant: str,
    *,
    source: str,
    progress: bool,
    rejected: dict[str, Any],
) -> dict[str, dict[str, Any]] | None:
    """Verify release files that agea-xr did not download; their entries, or None.

    Offline, so the content is compared with what is known without a server: the
    binary must have exactly rows x 318,652 bytes, and every file whose sha256
    was published (:data:`agea_xr.layout.PINNED`) and equals it is verified by that
    pin, whatever the folder's version marker says. A folder whose marker claims
    the pinned release while a file differs from its pin is refused: the file is
    recorded in ``rejected`` (with its size and mtime) so that it is not hashed
    again until it changes. Other files are verified by size only (recorded so:
    :func:`sync` never takes them for the bucket's current files without checking
    them against it). Every file is hashed once (sha256 and MD5), so a later
    ``check=True`` or an ETag comparison has a hash to compare with.
    """
    from ..release import read_table
    from .transfer import digest_file

    names = [n for n in _needed(variant) if (folder / n).is_file()]
    binary = layout.binary_file(variant)
    if layout.TABLE_FILE not in names or binary not in names:
        return None
    try:
        rows = len(read_table(folder))
    except (OSError, ValueError) as err:
        logger.warning("Not using %s: %s", folder, err)
        return None
    size = (folder / binary).stat().st_size
    if size != rows * layout.VOLUME_BYTES:
        logger.warning(
            "Not using %s: %s has %d bytes, its table needs %d.",
            folder,
            binary,
            size,
            rows * layout.VOLUME_BYTES,
        )
        return None
    skipped = [n for n in names if _rejected_before(rejected, folder / n)]
    if skipped:
        logger.info(
            "Not using %s: %s failed verification before and has not changed since.",
            folder,
            ", ".join(skipped),
        )
        return None
    marker = _folder_version(folder)
    claims_pinned = marker == layout.PINNED_VERSION
    entries = {}
    pinned_match = False
    for name in names:
        path = folder / name
        stat = path.stat()
        digest = digest_file(path, progress=progress, desc=name)
        pin_size, pin_sha = layout.PINNED.get(name, (None, None))
        if pin_sha is not None and digest.sha256 == pin_sha:
            verified, pinned_match = "sha256 pin", True
        elif claims_pinned and (
            pin_sha is not None or (pin_size is not None and stat.st_size != pin_size)
        ):
            logger.warning(
                "Not using %s: its marker says release %s, but %s does not match that "
                "release (expected sha256 %s and %s bytes, got %s and %d bytes).",
                folder,
                marker,
                name,
                pin_sha,
                pin_size,
                digest.sha256,
                stat.st_size,
            )
            rejected[str(path)] = {
                "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
                "sha256": digest.sha256,
                "reason": f"does not match the published release {marker}",
                "time": _now(),
            }
            return None
        else:
            verified = "size"
        entries[str(path)] = {
            "name": name,
            "size": stat.st_size,
            "sha256": digest.sha256,
            "md5": digest.md5,
            "verified": verified,
            "source": source,
            "etag": None,
            "mtime_ns": stat.st_mtime_ns,
            "time": _now(),
        }
    version = layout.PINNED_VERSION if marker == "unknown" and pinned_match else marker
    for entry in entries.values():
        entry["version"] = version  # one label for the folder (consistency of a release)
    return entries


def _adopt_existing(folder: Path, variant: str, progress: bool) -> Path | None:
    """Adopt a manual copy in the cache folder, else iblatlas' copy; record it.

    Files of the cache folder are adopted only if none of them is recorded yet:
    recorded files that do not form a consistent release are never mixed with others.
    The outcome is recorded either way (the entries, or the files that failed), so
    that no file is hashed again on the next open.
    """
    manifest = read_manifest(folder)
    recorded = manifest["files"]
    rejected = dict(manifest.get("rejected") or {})
    candidates = []
    if not any(str(folder / n) in recorded for n in _needed(variant)):
        candidates.append((folder, LOCAL_COPY))
    ibl = iblatlas_cache()
    if ibl is not None:
        candidates.append((ibl, layout.BUCKET_URL))
    for candidate, source in candidates:
        binary = candidate / layout.binary_file(variant)
        if not ((candidate / layout.TABLE_FILE).is_file() and binary.is_file()):
            continue
        before = dict(rejected)
        entries = _adopt(candidate, variant, source=source, progress=progress, rejected=rejected)
        if entries is None:
            if rejected != before:
                _record(folder, {}, {k: v for k, v in rejected.items() if k not in before})
            continue
        _record(folder, entries, {})
        logger.info(
            "Using the AGEA release in %s (verified, recorded in the manifest).", candidate
        )
        return candidate
    return None


def _record(
    folder: Path, entries: Mapping[str, dict[str, Any]], rejected: Mapping[str, dict[str, Any]]
) -> None:
    """Add verified entries (and files that failed verification) to the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    with _lock(folder):
        manifest = read_manifest(folder)
        manifest["files"].update(entries)
        failed = dict(manifest.get("rejected") or {})
        for key in entries:
            failed.pop(key, None)
        failed.update(rejected)
        if failed:
            manifest["rejected"] = failed
        else:
            manifest.pop("rejected", None)
        _write_manifest(folder, manifest)


def cached_source(
    variant: str = "raw", cache_dir: str | os.PathLike | None = None, *, progress: bool = False
) -> Path:
    """The folder holding a verified local copy of ``variant``; never uses the network.

    The manifest of the cache is trusted (files present with their recorded
    sizes). Release files found without a manifest entry, in the cache folder or
    in iblatlas' cache, are verified once (size, and the published sha256 where
    one exists; a copy whose marker claims the pinned version but whose files
    differ from the pins is refused) and recorded, refusals included, so that
    they are not hashed again while unchanged.

    Parameters
    ----------
    variant : {"raw", "processed"}
    cache_dir : str or os.PathLike, optional
        Cache folder (default: :func:`cache_dir`).
    progress : bool, default False
        Show progress while hashing files found without a manifest entry.

    Returns
    -------
    pathlib.Path
        The cache folder, or iblatlas' folder when its copy is the one in use.

    Raises
    ------
    FileNotFoundError
        If no verified copy of that variant exists locally.
    ValueError
        If ``variant`` is unknown, or the manifest is damaged.

    Examples
    --------
    >>> import tempfile
    >>> cached_source(cache_dir=tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: The local cache ... does not hold the raw AGEA release ...
    """
    binary = layout.binary_file(variant)
    folder = _cache_dir(cache_dir)
    found = _complete_folder(read_manifest(folder), variant, folder)
    if found is None:
        found = _adopt_existing(folder, variant, progress)
    if found is not None:
        return found
    raise FileNotFoundError(
        f"The local cache {str(folder)!r} does not hold the {variant} AGEA release "
        f"({binary}). Download it with agea_xr.download(variant={variant!r}) (or "
        f"`agea-xr download --variant {variant}`), pass the folder of an existing copy "
        "to agea_xr.open_dataset, or use agea_xr.open_sample() for the bundled sample."
    )


# --- downloading --------------------------------------------------------------------
@contextlib.contextmanager
def _lock(folder: Path):
    """Hold the cache folder's file lock (waiting, with a message, if another has it)."""
    import filelock

    lock = filelock.FileLock(str(folder / LOCK_FILE))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        logger.warning("Waiting for another process downloading into %s ...", folder)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


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
    reused_iblatlas : bool
        Whether iblatlas' existing copy is the one in use.
    """

    folder: Path
    source: str
    version: str
    downloaded: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    reused_iblatlas: bool = False

    @property
    def was_current(self) -> bool:
        """Whether nothing had to be downloaded."""
        return not self.downloaded


def _recheck(
    manifest: dict[str, Any], variant: str, own: Path, progress: bool, report: CacheReport
) -> None:
    """Re-hash the recorded files of ``variant``; remove or forget those that differ."""
    from .transfer import hash_file

    for key in list(manifest["files"]):
        entry = manifest["files"][key]
        path = Path(key)
        if entry.get("name") not in _needed(variant) or not path.is_file():
            continue
        got = hash_file(path, progress=progress, desc=path.name)
        report.checked.append(path.name)
        expected = [entry.get("sha256")]
        if entry.get("source") == layout.BUCKET_URL and entry.get("version") == (
            layout.PINNED_VERSION
        ):
            expected.append(layout.PINNED.get(path.name, (None, None))[1])
        if all(e is None or e == got for e in expected):
            continue
        want = next(e for e in expected if e is not None and e != got)
        logger.warning(
            "%s failed verification: expected sha256 %s, got %s; %s.",
            path,
            want,
            got,
            "removed" if path.parent == own else "no longer used (not ours to delete)",
        )
        if path.parent == own:
            path.unlink()
        del manifest["files"][key]
        report.removed.append(path.name)


def _is_current(entry: Mapping[str, Any] | None, remote, url: str, version: str) -> bool:
    if not entry:
        return False
    return (
        entry.get("source") == url
        and entry.get("version") == version
        and entry.get("size") == remote.size
        and (entry.get("etag") is None or remote.etag is None or entry["etag"] == remote.etag)
    )


def sync(
    source: str | os.PathLike = layout.BUCKET_URL,
    *,
    variant: str = "raw",
    cache_dir: str | os.PathLike | None = None,
    storage_options: Mapping[str, Any] | None = None,
    progress: bool = True,
    check: bool = False,
) -> CacheReport:
    """Bring the cache up to date with a release; :func:`download` with a full report.

    Parameters
    ----------
    source, variant, cache_dir, storage_options, progress, check
        As for :func:`download`.

    Returns
    -------
    CacheReport
        The folder, the remote version, and which files were current, downloaded,
        re-checked or removed.

    Raises
    ------
    ConnectionError, FileNotFoundError, ValueError, ChecksumError
        As for :func:`download`.
    """
    from ..remote import is_official, list_release, normalize_url
    from .transfer import fetch_file

    binary = layout.binary_file(variant)  # validates variant first
    url = normalize_url(source)
    folder = _cache_dir(cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with _lock(folder):
        manifest = read_manifest(folder)
        report = CacheReport(folder=folder, source=url, version="unknown")
        if check:
            _recheck(manifest, variant, folder, progress, report)
            _write_manifest(folder, manifest)
        release = list_release(url, storage_options)
        report.version = release.version
        if binary not in release.files:
            raise FileNotFoundError(
                f"{url!r} holds no {variant} binary {binary!r} (it has "
                f"{sorted(release.files)}). Choose the other variant or another source."
            )
        needed = [n for n in _needed(variant) if n in release.files]
        entries = manifest["files"]
        current = [
            n
            for n in needed
            if _is_current(entries.get(str(folder / n)), release.files[n], url, release.version)
            and _entry_valid(folder / n, entries[str(folder / n)], folder)
        ]
        if len(current) == len(needed):
            report.current = current
            return report

        if is_official(url):
            ibl = iblatlas_cache()
            if ibl is not None and _use_iblatlas(ibl, manifest, needed, release, folder, progress):
                _write_manifest(folder, manifest)
                report.folder, report.reused_iblatlas, report.current = ibl, True, needed
                return report

        pinned = is_official(url) and release.version == layout.PINNED_VERSION
        order = [layout.TABLE_FILE] + [n for n in needed if n != layout.TABLE_FILE]
        for name in order:
            if name in current:
                report.current.append(name)
                continue
            remote = release.files[name]
            pin_size, pin_sha = layout.PINNED.get(name, (None, None)) if pinned else (None, None)
            expected_size = pin_size
            if name == binary:
                from ..release import read_table

                rows = len(read_table(folder))
                expected_size = rows * layout.VOLUME_BYTES
            fetched = fetch_file(
                release.fs,
                remote,
                folder / name,
                url=f"{url}/{name}",
                expected_size=expected_size,
                expected_sha256=pin_sha,
                progress=progress,
            )
            entries[str(folder / name)] = {
                "name": name,
                "size": fetched.size,
                "sha256": fetched.sha256,
                "verified": fetched.verified,
                "version": release.version,
                "source": url,
                "endpoint_url": release.options.get("endpoint_url"),
                "etag": remote.etag,
                "time": _now(),
            }
            (manifest.get("rejected") or {}).pop(str(folder / name), None)
            _write_manifest(folder, manifest)
            report.downloaded.append(name)
        _write_version_marker(folder, release.version)
    return report


def _recorded_sha256(manifest: Mapping[str, Any], remote, url: str, exclude: Path) -> str | None:
    """The sha256 our manifest records for this very remote object (same URL, size, ETag)."""
    if not remote.etag:
        return None
    for key, entry in manifest["files"].items():
        if (
            key != str(exclude)
            and entry.get("name") == remote.name
            and entry.get("source") == url
            and entry.get("size") == remote.size
            and entry.get("etag") == remote.etag
            and entry.get("sha256")
        ):
            return entry["sha256"]
    return None


def _same_content(
    name: str, known: Mapping[str, Any], remote, url: str, pinned: bool, manifest, path: Path
) -> str | bool | None:
    """Whether a local file is the remote object, from what is ``known`` of its content.

    ``known`` holds the file's ``sha256`` and ``md5`` (and, freshly computed,
    ``etag_match``; or, from the manifest, the ``etag`` and ``verified`` method of an
    earlier check). Returns how the identity was established, False if the content
    differs, None if it cannot be told from ``known``. The version marker plays no part.
    """
    if remote.etag and known.get("etag") == remote.etag and known.get("source") == url:
        return known.get("verified") or "etag"  # checked against this very object before
    pin = layout.PINNED.get(name, (None, None))[1] if pinned else None
    sha = known.get("sha256")
    if pin is not None:  # the release the pins were published for: they are the identity
        return "sha256 pin" if sha == pin else False
    recorded = _recorded_sha256(manifest, remote, url, path)
    if recorded is not None and sha is not None:
        return "recorded sha256" if sha == recorded else False
    etag = (remote.etag or "").strip('"').lower()
    if len(etag) == 32 and all(c in "0123456789abcdef" for c in etag) and known.get("md5"):
        return "etag md5" if known["md5"] == etag else False
    match = known.get("etag_match")
    if match is not None:
        return "etag md5" if match else False
    return None


def _use_iblatlas(
    ibl: Path, manifest: dict[str, Any], needed, release, own: Path, progress: bool
) -> bool:
    """Whether iblatlas' copy holds exactly the files ``release`` lists; record them if so.

    Each file must have the listed size and the same content as the bucket's object:
    for the pinned version, its published sha256; otherwise the sha256 our manifest
    recorded for that object (same URL, size and ETag), or the bucket's ETag (the MD5
    of a single-part object; a multipart one when its part size can be found). A file
    is hashed only if the manifest does not already tell (never twice while it is
    unchanged); the verified entries are then recorded. A version marker alone is
    never trusted.
    """
    from .transfer import digest_file

    url = release.url
    pinned = release.version == layout.PINNED_VERSION
    verified: dict[str, dict[str, Any]] = {}
    for name in needed:
        path = ibl / name
        remote = release.files[name]
        try:
            stat = path.stat()
        except OSError:
            return False
        if stat.st_size != remote.size:
            logger.info(
                "Not using %s: %s has %d bytes, the bucket's %d.",
                ibl,
                name,
                stat.st_size,
                remote.size,
            )
            return False
        entry = manifest["files"].get(str(path))
        how = None
        if entry is not None and _entry_valid(path, entry, own):
            how = _same_content(name, entry, remote, url, pinned, manifest, path)
        else:
            entry = None
        if how is None:  # not told by the manifest: hash the file, once
            digest = digest_file(path, remote.etag, progress=progress, desc=name)
            entry = {"name": name, "sha256": digest.sha256, "md5": digest.md5}
            known = {**entry, "etag_match": digest.etag_match}
            how = _same_content(name, known, remote, url, pinned, manifest, path)
        if not how:
            logger.info(
                "Not using %s: %s %s the bucket's current %s.",
                ibl,
                name,
                "cannot be verified against" if how is None else "differs from",
                f"{url}/{name}",
            )
            return False
        verified[str(path)] = {
            **entry,
            "name": name,
            "size": stat.st_size,
            "verified": how,
            "version": release.version,
            "source": url,
            "etag": remote.etag,
            "mtime_ns": stat.st_mtime_ns,
            "time": _now(),
        }
    manifest["files"].update(verified)
    return True


def _write_version_marker(folder: Path, version: str) -> None:
    for old in folder.glob(f"*{layout.VERSION_SUFFIX}"):
        if old.name != f"{version}{layout.VERSION_SUFFIX}":
            old.unlink()
    if version != "unknown":
        (folder / f"{version}{layout.VERSION_SUFFIX}").touch()


def download(
    source: str | os.PathLike = layout.BUCKET_URL,
    *,
    variant: str = "raw",
    cache_dir: str | os.PathLike | None = None,
    storage_options: Mapping[str, Any] | None = None,
    progress: bool = True,
    check: bool = False,
) -> Path:
    """Download the release into the local cache, verified; return the folder.

    Only the files ``variant`` needs are fetched (the table, ``label.npy``,
    ``image.npy`` and one binary), each into ``<name>.part`` in the cache
    folder by range requests (an interrupted download resumes where it
    stopped), then verified and renamed into place. Files already current
    (same version, size and ETag as the source) are not fetched again; an
    existing iblatlas copy of the official release is used instead of
    downloading when its content is the bucket's (the published sha256 for the
    pinned version, else a sha256 recorded for the same object or the bucket's
    MD5 ETag; never its version marker alone), verified once and recorded.

    Parameters
    ----------
    source : str or os.PathLike, default the official bucket
        fsspec URL (or local path) of a release folder.
    variant : {"raw", "processed"}, default "raw"
        Which binary to fetch.
    cache_dir : str or os.PathLike, optional
        Target folder (default: :func:`cache_dir`: ``$AGEA_XR_CACHE`` or the
        per-user cache folder).
    storage_options : mapping, optional
        fsspec options (``endpoint_url``, ``anon``, credentials, ...); the IBL
        bucket is read anonymously by default.
    progress : bool, default True
        Show progress bars (bytes, rate, ETA) on stderr.
    check : bool, default False
        First re-hash the cached files of ``variant`` and compare with the manifest
        (and the published sha256 pins); files that differ are removed and fetched
        again.

    Returns
    -------
    pathlib.Path
        The folder holding the verified files; pass it to
        :func:`agea_xr.open_dataset` (or call ``open_dataset()`` without a source).

    Raises
    ------
    ConnectionError
        If the source cannot be reached (within seconds), or stopped responding
        mid-transfer (then the next call resumes).
    FileNotFoundError
        If the source holds no AGEA release or not the asked variant.
    ValueError
        If a file on the server has the wrong size (e.g. a truncated binary), or
        ``variant`` is unknown.
    ChecksumError
        (a ValueError) If a downloaded file does not match its published sha256 or
        the server's MD5; it is removed.

    Notes
    -----
    The sha256 pins of :data:`agea_xr.layout.PINNED` apply to the official bucket's
    release they were published for (``2025-03-18``). Other sources and versions
    are verified by size and, where the server offers one, by its MD5 ETag; their
    sha256 is recorded in the manifest for later ``check=True``.

    Examples
    --------
    >>> import agea_xr, tempfile
    >>> folder = agea_xr.download(agea_xr.sample_path(), cache_dir=tempfile.mkdtemp(),
    ...                           progress=False)
    >>> agea_xr.open_dataset(folder).sizes["experiment"]
    2
    """
    return sync(
        source,
        variant=variant,
        cache_dir=cache_dir,
        storage_options=storage_options,
        progress=progress,
        check=check,
    ).folder


def ensure(
    variant: str = "raw",
    *,
    cache_dir: str | os.PathLike | None = None,
    storage_options: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> Path:
    """The local release of ``variant``, downloading the official one first if absent.

    Parameters
    ----------
    variant : {"raw", "processed"}
    cache_dir : str or os.PathLike, optional
        Cache folder (default: :func:`cache_dir`).
    storage_options : mapping, optional
        fsspec options for the download (e.g. ``endpoint_url`` of a mirror).
    progress : bool, default True
        Show progress bars.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileNotFoundError
        If the cache is empty and ``$AGEA_XR_OFFLINE`` forbids downloading.
    ConnectionError
        If the cache is empty and the bucket cannot be reached.

    Examples
    --------
    A copy placed in the cache folder is verified, recorded, and used as is:

    >>> import tempfile
    >>> from agea_xr.testing import write_synthetic
    >>> folder = write_synthetic(tempfile.mkdtemp(), 2, version="2026-01-01")
    >>> ensure(cache_dir=folder, progress=False) == folder
    True
    """
    try:
        return cached_source(variant, cache_dir, progress=progress)
    except FileNotFoundError as err:
        if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
            raise FileNotFoundError(
                f"{err} ({OFFLINE_ENV} is set, so nothing is downloaded.)"
            ) from None
        logger.info("The local cache is empty: downloading the %s release.", variant)
    return download(
        variant=variant,
        cache_dir=cache_dir,
        storage_options=storage_options,
        progress=progress,
    )
