"""The MERFISH cell-type and lipid files in the cache: only what is asked for, verified.

:func:`sync_volumes` fills ``<cache>/merfish/`` and ``<cache>/lipids/`` in
iblatlas' layout with the files of the asked taxonomy levels (the volume, its
type ids, the taxonomy tables it needs) and of the lipids, plus
``<cache>/agea/label.npy``, the grid label that :func:`agea_xr.open_cell_types`
and :func:`agea_xr.open_lipids` read beside them. The steps are those of the
AGEA release (:mod:`agea_xr.fetch.steps`): one listing per folder, before any
transfer; files already current are left alone; every other file is transferred
resumably and verified (the listed size, the size its ``.npy`` header announces,
the server's ETag, single-part or multipart) and recorded in the cache's manifest
with its sha256, under the cache's lock. For the official bucket, iblatlas' copy
is used instead of downloading when its content is the bucket's.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import layout
from .. import volumes_layout as vl
from .._choices import check_bool
from .._files import make_folder
from .adopt import iblatlas_roots, use_iblatlas
from .location import cache_dir as _cache_dir
from .location import (
    file_stat,
    folder_version,
    lock,
    read_manifest,
    write_manifest,
    write_version_marker,
)
from .plan import entry_matches
from .steps import CacheReport, current_files, fetch_recorded, listing, recheck, unverified
from .transfer import check_size

__all__ = ["Part", "check_levels", "parts", "sync_volumes"]

logger = logging.getLogger(__name__)

#: Bytes read first to learn a volume's size from its ``.npy`` header.
HEAD_BYTES = 4096


@dataclass(frozen=True)
class Part:
    """One folder of the cache to fill: ``<cache>/<kind>`` from ``url``.

    Attributes
    ----------
    kind : {"merfish", "lipids", "agea"}
        The folder, named as in iblatlas' layout.
    url : str
        The source folder.
    names : tuple of str
        Its files to fetch, small ones first.
    volumes : tuple of str
        Those of ``names`` that are ``.npy`` volumes (their header gives their size).
    required : bool
        Whether the source must hold every file (the grid label is optional: without
        it, the volumes open with the bundled sample's label of the same grid).
    """

    kind: str
    url: str
    names: tuple[str, ...]
    volumes: tuple[str, ...] = ()
    required: bool = True


def check_flags(**flags: Any) -> None:
    """Each of the download's switches (lipids, progress, check, offline) is a bool.

    Raises
    ------
    TypeError
        Naming the first that is not (``"no"`` would count as True).
    """
    for name, value in flags.items():
        check_bool(value, name)


def check_levels(cell_types: str | Iterable[str] | None) -> list[str]:
    """The taxonomy levels asked for, checked, in order, each once.

    Parameters
    ----------
    cell_types : str, iterable of str or None
        One level, several, or None (none).

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        For an unknown level (the message names the four valid ones), or an empty
        list (no level given: it would silently ask for nothing).
    TypeError
        If ``cell_types`` is neither a string nor an iterable of strings.

    Examples
    --------
    >>> check_levels("class"), check_levels(["cluster", "class", "cluster"])
    (['class'], ['cluster', 'class'])
    >>> check_levels([])
    Traceback (most recent call last):
    ...
    ValueError: cell_types=[]: no level given; choose from 'class', 'subclass', ...
    """
    if cell_types is None:
        return []
    if isinstance(cell_types, str):
        cell_types = [cell_types]
    try:
        asked = list(cell_types)
    except TypeError:
        raise TypeError(
            f"cell_types={cell_types!r}: pass a taxonomy level ({', '.join(vl.LEVELS)}) or "
            "a list of them."
        ) from None
    if not asked:
        raise ValueError(
            f"cell_types={cell_types!r}: no level given; choose from "
            f"{', '.join(map(repr, vl.LEVELS))} (coarse to fine), or leave cell_types out."
        )
    return list(dict.fromkeys(vl.check_level(level) for level in asked))


def _sibling(source: str | os.PathLike, kind: str) -> str:
    """The folder ``kind`` beside the AGEA folder ``source`` (iblatlas' layout)."""
    from ..remote import is_url, normalize_url

    text = normalize_url(source)
    if is_url(text):
        return f"{text.rsplit('/', 1)[0]}/{kind}"
    return os.fspath(Path(text).expanduser().absolute().parent / kind)


def parts(source: str | os.PathLike, levels: Iterable[str], lipids: bool) -> list[Part]:
    """What to fetch: the folders of the cell types and lipids asked for, and the label.

    Parameters
    ----------
    source : str or os.PathLike
        The AGEA folder; the others are its siblings ``merfish/`` and ``lipids/``.
    levels : iterable of str
        Checked taxonomy levels (:func:`check_levels`).
    lipids : bool

    Returns
    -------
    list of Part
        ``merfish`` (if levels), ``lipids`` (if asked), then ``agea`` (the label).

    Examples
    --------
    >>> [(p.kind, p.names) for p in parts("s3://b/atlas/agea", ["class"], False)]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('merfish', ('merfish_class_labels.npy', 'classes.pqt', 'merfish_class.npy')),
     ('agea', ('label.npy',))]
    """
    from ..remote import normalize_url

    out = []
    levels = list(levels)
    if levels:
        volumes = tuple(vl.volume_file(level) for level in levels)
        files = dict.fromkeys(n for level in levels for n in vl.cell_type_files(level))
        small = [n for n in files if n not in volumes]
        small.sort(key=lambda n: not n.endswith(".npy"))  # type ids, then tables
        out.append(
            Part(
                vl.MERFISH_FOLDER, _sibling(source, vl.MERFISH_FOLDER), (*small, *volumes), volumes
            )
        )
    if lipids:
        out.append(
            Part(
                vl.LIPIDS_FOLDER,
                _sibling(source, vl.LIPIDS_FOLDER),
                (vl.LIPID_TABLE, vl.LIPID_FILE),
                (vl.LIPID_FILE,),
            )
        )
    if out:
        out.append(Part(vl.AGEA_FOLDER, normalize_url(source), (layout.LABEL_FILE,), (), False))
    return out


def _folders(root: Path, kind: str) -> list[Path]:
    """Where the files of ``kind`` may be recorded: the cache, then iblatlas' copy."""
    folders = [root / kind]
    if kind != vl.AGEA_FOLDER:  # iblatlas' copies, whether or not it holds the genes
        folders += [ibl / kind for ibl in iblatlas_roots()]
    return folders


def _offline(manifest: Mapping[str, Any], root: Path, part: Part, report: CacheReport) -> None:
    """What the cache holds of ``part``, without the network."""
    files = manifest["files"]

    def held(folder: Path) -> list[str]:
        ours = folder.is_relative_to(root)
        return [
            n
            for n in part.names
            if str(folder / n) in files
            and entry_matches(files[str(folder / n)], file_stat(folder / n), ours)
        ]

    report.offline = True
    found = [f for f in _folders(root, part.kind) if len(held(f)) == len(part.names)]
    report.folder = found[0] if found else root / part.kind
    report.current = held(report.folder)
    if part.required:
        report.missing = [n for n in part.names if n not in report.current]
    report.reused_iblatlas = report.folder != root / part.kind
    versions = {files[str(report.folder / n)].get("version") for n in report.current}
    report.version = next(iter(versions - {None}), None) or (
        folder_version(report.folder) if report.folder.is_dir() else "unknown"
    )
    report.unverified = unverified(manifest, report.folder, part.names)


def _list(
    part: Part, manifest: Mapping[str, Any], root: Path, storage_options, check: bool, report
):
    """The listing of a part's source, and the sizes of the volumes to fetch, checked.

    Returns
    -------
    release : agea_xr.remote.RemoteRelease or None
        None (nothing is fetched) if an optional part's file is absent.
    sizes : dict of str to int
        Bytes each volume that is not current must have (its ``.npy`` header's word).
    """
    release = listing(part.url, storage_options, check, report, names=part.names)
    report.version = release.version
    absent = [n for n in part.names if n not in release.files]
    if not absent:
        current = current_files(manifest, root / part.kind, part.volumes, release)
        sizes = {n: _volume_size(release, n) for n in part.volumes if n not in current}
        for name, size in sizes.items():
            check_size(f"{release.url}/{name}", release.files[name].size, size)
        return release, sizes
    if not part.required:
        logger.info("No %s at %s: not cached (the bundled grid label is used).", absent, part.url)
        return None, {}
    official = vl.MERFISH_URL if part.kind == vl.MERFISH_FOLDER else vl.LIPIDS_URL
    endpoint = release.options.get("endpoint_url")
    raise FileNotFoundError(
        f"{part.url!r}{f' (at {endpoint})' if endpoint else ''} holds no {', '.join(absent)}"
        f"{' (nothing asked is there)' if not release.files else ''}. The {part.kind}/ folder "
        f"lies beside the AGEA folder in iblatlas' layout (the official one is {official}); "
        "check the source, or ask for what it holds. Nothing was downloaded."
    )


def _volume_size(release: Any, name: str) -> int:
    """Bytes a volume must have, from its ``.npy`` header (one small range request)."""
    from ..remote import read_range

    remote, url = release.files[name], f"{release.url}/{name}"
    head = read_range(
        release.fs, remote.path, 0, min(HEAD_BYTES, remote.size), url=url, options=release.options
    )
    return vl.volume_header(head, url)[3]


def _fill(
    part: Part,
    release: Any,
    sizes: Mapping[str, int],
    manifest: dict[str, Any],
    root: Path,
    progress: bool,
    report: CacheReport,
) -> None:
    """Fetch the files of ``part`` that are not current (or use iblatlas' copy)."""
    from ..remote import is_official, normalize_url

    target = root / part.kind
    current = current_files(manifest, target, part.names, release)
    official = {vl.MERFISH_FOLDER: vl.MERFISH_URL, vl.LIPIDS_FOLDER: vl.LIPIDS_URL}
    if len(current) < len(part.names) and normalize_url(part.url) == official.get(part.kind):
        for theirs in (ibl / part.kind for ibl in iblatlas_roots()):
            if use_iblatlas(theirs, manifest, part.names, release, root, progress):
                write_manifest(root, manifest)
                report.folder, report.reused_iblatlas = theirs, True
                report.current = list(part.names)
                return
    pinned = is_official(part.url) and release.version == layout.PINNED_VERSION
    make_folder(target)
    for name in part.names:
        if name in current:
            report.current.append(name)
            continue
        fetch_recorded(
            release,
            name,
            target,
            root,
            manifest,
            pinned=pinned,
            expected_size=sizes.get(name),
            progress=progress,
        )
        report.downloaded.append(name)
    write_version_marker(target, release.version)
    report.unverified = unverified(manifest, target, part.names)


def sync_volumes(
    source: str | os.PathLike = layout.BUCKET_URL,
    *,
    cell_types: str | Iterable[str] | None = None,
    lipids: bool = False,
    cache_dir: str | os.PathLike | None = None,
    storage_options: Mapping[str, Any] | None = None,
    progress: bool = True,
    check: bool = False,
    offline: bool = False,
) -> list[CacheReport]:
    """Bring the cache's cell-type and lipid files up to date; a report per folder.

    Parameters
    ----------
    source : str or os.PathLike, default the official AGEA folder
        The AGEA release folder (URL or path); the cell-type and lipid files are
        read from its siblings ``merfish/`` and ``lipids/`` (iblatlas' layout, as in
        ``s3://ibl-brain-wide-map-public/atlas``), the grid label from it.
    cell_types : str or iterable of str, optional
        Taxonomy levels (``"class"``, ``"subclass"``, ``"supertype"``,
        ``"cluster"``: 11 MB, 108 MB, 383 MB, 1.7 GB); each fetches its volume, its
        type ids and the taxonomy tables of the level and the levels above it.
    lipids : bool, default False
        Fetch ``lipid_volumes.npy`` and ``lipids.pqt``.
    cache_dir, storage_options, progress, check, offline
        As for :func:`agea_xr.download`.

    Returns
    -------
    list of CacheReport
        One per folder, in this order: ``merfish`` (if levels were asked),
        ``lipids`` (if asked), ``agea`` (the grid label; left out if the source has
        none). Each says which files were current, downloaded, re-checked, removed,
        unverified or missing, and ``folder``: ``<cache>/<kind>``, or iblatlas' copy
        when it is the one in use.

    Raises
    ------
    ValueError
        If nothing is asked, a level is unknown, a volume on the server has the
        wrong size (or a header that is not a volume on the grid), or the manifest
        is damaged.
    TypeError
        If ``lipids``, ``progress``, ``check`` or ``offline`` is not a bool.
    FileNotFoundError
        If the source lacks a file asked for (nothing is downloaded then).
    ConnectionError, PermissionError, OSError, ChecksumError
        As for :func:`agea_xr.download`; a file that fails verification is removed.

    Examples
    --------
    >>> import tempfile, pathlib, agea_xr.testing as t
    >>> atlas = pathlib.Path(tempfile.mkdtemp())
    >>> _ = t.write_merfish(atlas / "merfish", ["class"]), t.write_agea_grid(atlas / "agea")
    >>> cache = tempfile.mkdtemp()
    >>> reports = sync_volumes(atlas / "agea", cell_types="class", cache_dir=cache,
    ...                        progress=False)
    >>> [(r.folder.name, len(r.downloaded)) for r in reports]
    [('merfish', 3), ('agea', 1)]
    >>> [len(r.current) for r in sync_volumes(atlas / "agea", cell_types="class",
    ...                                       cache_dir=cache, progress=False)]
    [3, 1]
    """
    levels = check_levels(cell_types or None)  # [] is "none" here (the command line's)
    check_flags(lipids=lipids, progress=progress, check=check, offline=offline)
    if not levels and not lipids:
        raise ValueError(
            "Nothing to fetch: pass cell_types= a taxonomy level "
            f"({', '.join(vl.LEVELS)}) or a list of them, and/or lipids=True."
        )
    todo = parts(source, levels, lipids)
    root = _cache_dir(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    with lock(root):
        manifest = read_manifest(root)
        reports = [
            CacheReport(folder=root / p.kind, source=p.url, version="unknown") for p in todo
        ]
        if check:
            for part, report in zip(todo, reports, strict=True):
                folders = _folders(root, part.kind)
                recheck(
                    manifest,
                    lambda path, entry, p=part, f=folders: (
                        path.parent in f and entry.get("name") in p.names
                    ),
                    root,
                    progress,
                    report,
                )
            write_manifest(root, manifest)
        if offline:
            for part, report in zip(todo, reports, strict=True):
                _offline(manifest, root, part, report)
            return reports
        listed = [
            _list(part, manifest, root, storage_options, check, report)
            for part, report in zip(todo, reports, strict=True)
        ]  # every source listed and every size checked before the first transfer
        done = []
        for part, report, (release, sizes) in zip(todo, reports, listed, strict=True):
            if release is not None:
                _fill(part, release, sizes, manifest, root, progress, report)
                done.append(report)
    return done
