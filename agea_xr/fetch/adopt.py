"""Adopting copies agea-xr did not download: a manual copy, iblatlas' cache.

Content, never a ``<date>.version`` marker, decides whether such a copy is the
release: the published sha256 pins for the pinned version; otherwise a sha256
recorded in the manifest for the same remote object, or the bucket's ETag. Each
file is hashed once and the outcome (accepted or refused) recorded, so nothing is
re-hashed on every open. iblatlas' folder is found by reading ONE's configuration
file and is only ever read: nothing is written outside the cache folder.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import layout
from . import hashes
from .location import (
    LOCAL_COPY,
    file_stat,
    folder_version,
    lock,
    needed,
    now,
    read_manifest,
    write_manifest,
)
from .location import cache_dir as _cache_dir
from .plan import complete_folder, entry_matches, same_content

__all__ = [
    "adopt_existing",
    "adopt_folder",
    "cached_source",
    "iblatlas_cache",
    "iblatlas_roots",
    "record",
    "use_iblatlas",
]

logger = logging.getLogger(__name__)


# --- iblatlas' cache, found read-only ----------------------------------------------
def iblatlas_roots() -> list[Path]:
    """iblatlas' atlas folders on this machine, as ONE's configuration names them.

    ONE's configuration file (``~/.one/.caches``, ``%APPDATA%/.one/.caches`` on
    Windows) maps each database to a cache folder, as ``one.params.get()`` reads
    it; iblatlas keeps its atlas files in ``<that folder>/histology/ATLAS/Needles/
    Allen`` (``AllenAtlas._get_cache_dir()``): ``agea/``, and ``merfish/`` and
    ``lipids/`` beside it (what ``merfish.load_volume`` and ``lipids.load_volume``
    leave). Whatever they hold: the genes, the cell types and the lipids are
    looked for in them separately. The file is only read: unlike
    ``one.params.get()``, this creates nothing.

    Returns
    -------
    list of pathlib.Path
        The existing folders, the default database's first; empty without ONE.

    Examples
    --------
    >>> all(folder.name == "Allen" for folder in iblatlas_roots())
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
        return []
    default = config.get("DEFAULT")
    roots = [client_map.pop(default)] if default in client_map else []
    roots += list(client_map.values())
    out: list[Path] = []
    for root in roots:
        if not isinstance(root, str):
            continue
        folder = Path(root).expanduser().joinpath(*layout.IBLATLAS_CACHE_SUBDIR[:-1])
        if folder.is_dir() and folder not in out:
            out.append(folder)
    return out


def iblatlas_cache() -> Path | None:
    """iblatlas' AGEA folder, if ONE is configured on this machine and the folder exists.

    The ``agea`` folder of the first of :func:`iblatlas_roots` that holds the
    genes' table. The cell types and lipids need no genes: they look in
    :func:`iblatlas_roots` themselves.

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
    for root in iblatlas_roots():
        folder = root / layout.IBLATLAS_CACHE_SUBDIR[-1]
        if (folder / layout.TABLE_FILE).is_file():
            return folder
    return None


def _rejected_before(rejected: Mapping[str, Any], path: Path) -> bool:
    """Whether ``path`` failed verification before and has not changed since."""
    record = rejected.get(str(path))
    if not record:
        return False
    stat = path.stat()
    return record.get("size") == stat.st_size and record.get("mtime_ns") == stat.st_mtime_ns


def adopt_folder(
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

    names = [n for n in needed(variant) if (folder / n).is_file()]
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
    marker = folder_version(folder)
    claims_pinned = marker == layout.PINNED_VERSION
    entries = {}
    pinned_match = False
    for name in names:
        path = folder / name
        stat = path.stat()
        digest = hashes.digest_file(path, progress=progress, desc=name)
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
                "time": now(),
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
            "time": now(),
        }
    version = layout.PINNED_VERSION if marker == "unknown" and pinned_match else marker
    for entry in entries.values():
        entry["version"] = version  # one label for the folder (consistency of a release)
    return entries


def adopt_existing(folder: Path, variant: str, progress: bool) -> Path | None:
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
    if not any(str(folder / n) in recorded for n in needed(variant)):
        candidates.append((folder, LOCAL_COPY))
    ibl = iblatlas_cache()
    if ibl is not None:
        candidates.append((ibl, layout.BUCKET_URL))
    for candidate, source in candidates:
        binary = candidate / layout.binary_file(variant)
        if not ((candidate / layout.TABLE_FILE).is_file() and binary.is_file()):
            continue
        before = dict(rejected)
        entries = adopt_folder(
            candidate, variant, source=source, progress=progress, rejected=rejected
        )
        if entries is None:
            if rejected != before:
                record(folder, {}, {k: v for k, v in rejected.items() if k not in before})
            continue
        record(folder, entries, {})
        logger.info(
            "Using the AGEA release in %s (verified, recorded in the manifest).", candidate
        )
        return candidate
    return None


def record(
    folder: Path, entries: Mapping[str, dict[str, Any]], rejected: Mapping[str, dict[str, Any]]
) -> None:
    """Add verified entries (and files that failed verification) to the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    with lock(folder):
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
        write_manifest(folder, manifest)


def use_iblatlas(
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
        if entry is not None and entry_matches(entry, file_stat(path), path.parent == own):
            how = same_content(name, entry, remote, url, pinned, manifest, path)
        else:
            entry = None
        if how is None:  # not told by the manifest: hash the file, once
            digest = hashes.digest_file(path, remote.etag, progress=progress, desc=name)
            entry = {"name": name, "sha256": digest.sha256, "md5": digest.md5}
            known = {**entry, "etag_match": digest.etag_match}
            how = same_content(name, known, remote, url, pinned, manifest, path)
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
            "time": now(),
        }
    manifest["files"].update(verified)
    return True


def cached_source(
    variant: str = "raw",
    cache_dir: str | os.PathLike | None = None,
    *,
    progress: bool = False,
) -> Path:
    """The folder of a verified local release of ``variant``, without any network access.

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
        Cache folder (default: :func:`agea_xr.fetch.cache_dir`).
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
    NotADirectoryError
        If the cache folder is a file.
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
    found = complete_folder(read_manifest(folder), variant, folder, file_stat)
    if found is None:
        found = adopt_existing(folder, variant, progress)
    if found is not None:
        return found
    raise FileNotFoundError(
        f"The local cache {str(folder)!r} does not hold the {variant} AGEA release "
        f"({binary}). Download it with agea_xr.download(variant={variant!r}) (or "
        f"`agea-xr download --variant {variant}`), pass the folder of an existing copy "
        "to agea_xr.open_dataset, or use agea_xr.open_sample() for the bundled sample."
    )
