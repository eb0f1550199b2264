"""Filling and checking the cache: :func:`sync`, :func:`download`, :func:`ensure`.

:func:`download` fetches only what a variant needs, resumably and verified
(:mod:`agea_xr.fetch.transfer`), under the cache's file lock so that two
processes filling the same cache never corrupt it; an existing iblatlas copy is
used instead when its content is the bucket's (:mod:`agea_xr.fetch.adopt`).
Opening trusts the manifest and the file sizes (no 1.4 GB re-hash on every
open); ``check=True`` re-hashes on demand, with or without the network.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .. import layout
from .._choices import check_bool
from .adopt import cached_source, iblatlas_cache, use_iblatlas
from .location import (
    OFFLINE_ENV,
    file_stat,
    folder_version,
    lock,
    needed,
    read_manifest,
    write_manifest,
    write_version_marker,
)
from .location import cache_dir as _cache_dir
from .plan import complete_folder
from .steps import CacheReport, current_files, fetch_recorded, listing, recheck, unverified

__all__ = ["CacheReport", "cached_source", "download", "ensure", "sync"]

logger = logging.getLogger(__name__)


def _is_release_file(own: Path, variant: str) -> Callable[[Path, Mapping[str, Any]], bool]:
    """Recorded files of the ``variant`` release: in the cache folder itself or outside it.

    (The subfolders of the cache hold the cell-type and lipid files, and the grid
    label beside them: :func:`agea_xr.fetch.sync_volumes` checks those.)
    """
    names = needed(variant)

    def keep(path: Path, entry: Mapping[str, Any]) -> bool:
        in_subfolder = path.parent != own and path.is_relative_to(own)
        return entry.get("name") in names and not in_subfolder

    return keep


def _check_offline(
    manifest: dict[str, Any], variant: str, folder: Path, report: CacheReport
) -> CacheReport:
    """The report of a local-only sync: what the cache holds, nothing fetched."""
    report.offline = True
    report.folder = complete_folder(manifest, variant, folder, file_stat) or folder
    files = manifest["files"]
    for name in needed(variant):
        entry = files.get(str(report.folder / name))
        if entry is not None and file_stat(report.folder / name) is not None:
            report.current.append(name)
            report.version = entry.get("version") or report.version
        elif (
            entry is not None
            or name in report.removed
            or name in (layout.TABLE_FILE, layout.binary_file(variant))
        ):
            report.missing.append(name)  # required, or recorded (or removed now) and gone
    report.reused_iblatlas = report.folder != folder
    if report.version == "unknown":
        report.version = folder_version(report.folder)
    report.unverified = unverified(manifest, report.folder, needed(variant))
    return report


def sync(
    source: str | os.PathLike = layout.BUCKET_URL,
    *,
    variant: str = "raw",
    cache_dir: str | os.PathLike | None = None,
    storage_options: Mapping[str, Any] | None = None,
    progress: bool = True,
    check: bool = False,
    offline: bool = False,
) -> CacheReport:
    """Bring the cache up to date with a release; :func:`download` with a full report.

    Parameters
    ----------
    source, variant, cache_dir, storage_options, progress, check
        As for :func:`download`.
    offline : bool, default False
        Leave the source alone: only re-hash (with ``check``) and report what the
        cache holds (``missing`` lists what it lacks). ``sync(check=True,
        offline=True)`` verifies a cache without the network.

    Returns
    -------
    CacheReport
        The folder, the remote version, and which files were current, downloaded,
        re-checked, removed, unverified or missing.

    Raises
    ------
    ConnectionError, PermissionError, FileNotFoundError, ValueError, ChecksumError
        As for :func:`download`. With ``check=True``, a ConnectionError comes after
        the local check and its message says what the check found.

    Examples
    --------
    >>> import agea_xr, tempfile
    >>> folder = agea_xr.download(agea_xr.sample_path(), cache_dir=tempfile.mkdtemp(),
    ...                           progress=False)
    >>> report = sync(cache_dir=folder, check=True, offline=True, progress=False)
    >>> sorted(report.checked) == sorted(report.current), report.removed, report.missing
    (True, [], [])
    """
    from ..release import read_table
    from ..remote import is_official, normalize_url

    binary = layout.binary_file(variant)  # validates variant first
    url = normalize_url(source)
    folder = _cache_dir(cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with lock(folder):
        manifest = read_manifest(folder)
        report = CacheReport(folder=folder, source=url, version="unknown")
        if check:
            recheck(manifest, _is_release_file(folder, variant), folder, progress, report)
            write_manifest(folder, manifest)
        if offline:
            return _check_offline(manifest, variant, folder, report)
        release = listing(url, storage_options, check, report)
        report.version = release.version
        if binary not in release.files:
            raise FileNotFoundError(
                f"{url!r} holds no {variant} binary {binary!r} (it has "
                f"{sorted(release.files)}). Choose the other variant or another source."
            )
        names = [n for n in needed(variant) if n in release.files]
        current = current_files(manifest, folder, names, release)
        if len(current) == len(names):
            report.current = current
            report.unverified = unverified(manifest, folder, needed(variant))
            return report

        if is_official(url):
            ibl = iblatlas_cache()
            if ibl is not None and use_iblatlas(ibl, manifest, names, release, folder, progress):
                write_manifest(folder, manifest)
                report.folder, report.reused_iblatlas, report.current = ibl, True, names
                return report

        pinned = is_official(url) and release.version == layout.PINNED_VERSION
        order = [layout.TABLE_FILE] + [n for n in names if n != layout.TABLE_FILE]
        for name in order:
            if name in current:
                report.current.append(name)
                continue
            expected_size = None
            if name == binary:
                expected_size = len(read_table(folder)) * layout.VOLUME_BYTES
            fetch_recorded(
                release,
                name,
                folder,
                folder,
                manifest,
                pinned=pinned,
                expected_size=expected_size,
                progress=progress,
            )
            report.downloaded.append(name)
        write_version_marker(folder, release.version)
        report.unverified = unverified(manifest, folder, needed(variant))
    return report


def download(
    source: str | os.PathLike = layout.BUCKET_URL,
    *,
    variant: str = "raw",
    cell_types: str | Iterable[str] | None = None,
    lipids: bool = False,
    genes: bool | None = None,
    cache_dir: str | os.PathLike | None = None,
    storage_options: Mapping[str, Any] | None = None,
    progress: bool = True,
    check: bool = False,
    offline: bool = False,
) -> Path:
    """Download the release into the local cache, verified; return the folder.

    Only the files asked for are fetched: for the genes, those ``variant`` needs
    (the table, ``label.npy``, ``image.npy`` and one binary); for each taxonomy
    level of ``cell_types``, its volume, its type ids and the taxonomy tables it
    needs (into ``<cache>/merfish/``, iblatlas' layout); for ``lipids``, the
    volume and its table (into ``<cache>/lipids/``); with either, the grid label
    beside them (``<cache>/agea/label.npy``). Each file goes into ``<name>.part``
    by range requests (an interrupted download resumes where it stopped), is
    verified and renamed into place. Files already current (same version, size
    and ETag as the source) are not fetched again; an existing iblatlas copy of
    the official files is used instead of downloading when its content is the
    bucket's (the published sha256 for the pinned version, else a sha256 recorded
    for the same object or the bucket's ETag; never its version marker alone),
    verified once and recorded.

    Parameters
    ----------
    source : str or os.PathLike, default the official bucket
        fsspec URL (or local path) of an AGEA release folder. The cell-type and
        lipid files are read from its siblings ``merfish/`` and ``lipids/``
        (iblatlas' layout, as in ``s3://ibl-brain-wide-map-public/atlas``).
    variant : {"raw", "processed"}, default "raw"
        Which binary of the genes to fetch.
    cell_types : str or iterable of str, optional
        MERFISH taxonomy levels to fetch: ``"class"`` (11 MB), ``"subclass"``
        (108 MB), ``"supertype"`` (383 MB), ``"cluster"`` (1.7 GB), or a list.
    lipids : bool, default False
        Fetch the 173 lipid volumes (``lipid_volumes.npy``, ``lipids.pqt``).
    genes : bool, optional
        Fetch the genes (the AGEA release). Default: only when neither
        ``cell_types`` nor ``lipids`` is asked, so ``download(cell_types="class")``
        fetches 11 MB, not 1.4 GB; pass ``genes=True`` for both.
    cache_dir : str or os.PathLike, optional
        Target folder (default: :func:`agea_xr.fetch.cache_dir`: ``$AGEA_XR_CACHE``
        or the per-user cache folder).
    storage_options : mapping, optional
        fsspec options (``endpoint_url``, ``anon``, credentials, ...); the IBL
        bucket is read anonymously by default.
    progress : bool, default True
        Show progress bars (bytes, rate, ETA): on stderr, or as widgets in a notebook.
    check : bool, default False
        First re-hash the cached files asked for and compare with the manifest
        (and the published sha256 pins); files that differ are removed and fetched
        again.
    offline : bool, default False
        Never contact the source: with ``check``, only re-hash the cache (see
        :func:`sync` and :func:`sync_volumes` for the full reports).

    Returns
    -------
    pathlib.Path
        With the genes: the folder holding their verified files; pass it to
        :func:`agea_xr.open_dataset` (or call ``open_dataset()`` without a
        source). Without: the cache folder; :func:`agea_xr.open_cell_types` and
        :func:`agea_xr.open_lipids` without a source find the files there.

    Raises
    ------
    ConnectionError
        If the source cannot be reached (within seconds), or stopped responding
        mid-transfer (then the next call resumes). The message names the URL.
    PermissionError
        If no S3 credentials were found for a non-IBL bucket (the message says
        whether ``storage_options={'anon': True}`` reads it).
    FileNotFoundError
        If the source holds no AGEA release, not the asked variant, or not the
        asked cell-type or lipid files (then nothing of them is downloaded).
    NotADirectoryError
        If the cache folder is a file.
    ValueError
        If a file on the server has the wrong size (e.g. a truncated binary or
        volume), ``variant`` or a level is unknown (the message names the valid
        ones), ``cell_types`` is an empty list (no level given), nothing is asked
        (``genes=False`` alone), or the manifest is damaged.
    TypeError
        If ``cell_types`` is neither a string nor an iterable of strings, or
        ``lipids``, ``genes``, ``progress``, ``check`` or ``offline`` is not a bool
        (``lipids="yes"`` is refused, not taken as True).
    OSError
        If the server ignores byte-range requests, or a symbolic link sits where a
        file or folder is written.
    ChecksumError
        (a ValueError) If a downloaded file does not match its published sha256 or
        the server's ETag; it is removed.

    Notes
    -----
    The sha256 pins of :data:`agea_xr.layout.PINNED` apply to the official bucket's
    AGEA release they were published for (``2025-03-18``). Other sources,
    versions and files are verified by size (for a volume, also the size its
    ``.npy`` header announces) and, where the server offers one, by its ETag
    (single-part, or multipart when a usual part size gives it; otherwise the file
    is recorded and reported as unverified); their sha256 is recorded for later
    ``check=True``.

    Examples
    --------
    >>> import agea_xr, tempfile
    >>> folder = agea_xr.download(agea_xr.sample_path(), cache_dir=tempfile.mkdtemp(),
    ...                           progress=False)
    >>> agea_xr.open_dataset(folder).sizes["experiment"]
    2

    Only the class level of the cell types (here from synthetic files in iblatlas'
    layout):

    >>> import pathlib, agea_xr.testing as t
    >>> atlas = pathlib.Path(tempfile.mkdtemp())
    >>> _ = t.write_merfish(atlas / "merfish", ["class", "cluster"])
    >>> _ = t.write_agea_grid(atlas / "agea")
    >>> cache = agea_xr.download(atlas / "agea", cell_types="class",
    ...                          cache_dir=tempfile.mkdtemp(), progress=False)
    >>> sorted(p.name for p in (cache / "merfish").glob("*.npy"))
    ['merfish_class.npy', 'merfish_class_labels.npy']
    """
    from .volumes import check_flags, check_levels, sync_volumes

    levels = check_levels(cell_types)  # every argument checked before the network
    layout.binary_file(variant)  # a known variant, else the error naming the choices
    check_bool(genes, "genes", allow_none=True)
    check_flags(lipids=lipids, progress=progress, check=check, offline=offline)
    if genes is None:
        genes = not levels and not lipids
    if not genes and variant != "raw":
        raise ValueError(
            f"variant={variant!r} chooses the genes' binary, but the genes are not fetched "
            "(only cell_types= or lipids= asked): pass genes=True to fetch them too, or "
            "leave variant out."
        )
    if not genes and not levels and not lipids:
        raise ValueError(
            "Nothing to download: genes=False, and neither cell_types= (a level of "
            "class, subclass, supertype, cluster, or a list) nor lipids=True."
        )
    options = {
        "cache_dir": cache_dir,
        "storage_options": storage_options,
        "progress": progress,
        "check": check,
        "offline": offline,
    }
    folder = sync(source, variant=variant, **options).folder if genes else None
    if levels or lipids:
        sync_volumes(source, cell_types=levels or None, lipids=lipids, **options)
    return folder if folder is not None else _cache_dir(cache_dir)


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
        Cache folder (default: :func:`agea_xr.fetch.cache_dir`).
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
