"""Listings and byte-range reads of remote releases.

:func:`list_release` reads a release folder's file sizes, ETags and
``<date>.version`` marker in one listing; :func:`read_range` reads one byte range
and says so when a server ignores range requests (rather than calling the file
truncated).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import layout
from .errors import _endpoint, connection_errors
from .options import filesystem, normalize_url, storage_options_for

__all__ = [
    "RemoteFile",
    "RemoteRelease",
    "check_range",
    "iter_blocks",
    "list_release",
    "read_range",
]


@dataclass(frozen=True)
class RemoteFile:
    """One file of a remote release.

    Attributes
    ----------
    name : str
        File name inside the release folder.
    path : str
        Path as the filesystem knows it (no protocol).
    size : int
        Bytes.
    etag : str or None
        The server's ETag, without quotes, when offered.
    """

    name: str
    path: str
    size: int
    etag: str | None = None


@dataclass
class RemoteRelease:
    """A listing of a release folder.

    Attributes
    ----------
    url : str
        The folder's URL (normalised).
    fs : fsspec.AbstractFileSystem
        The filesystem that reads it.
    options : dict
        The storage options in use.
    version : str
        The newest ``<date>.version`` marker, or ``"unknown"``.
    files : dict of str to RemoteFile
        The files of the release found there.
    """

    url: str
    fs: Any
    options: dict[str, Any]
    version: str = "unknown"
    files: dict[str, RemoteFile] = field(default_factory=dict)


def list_release(
    url: str | os.PathLike,
    storage_options: Mapping[str, Any] | None = None,
    *,
    names: Collection[str] | None = None,
) -> RemoteRelease:
    """List a release folder: sizes, ETags and the version marker, in one request.

    Parameters
    ----------
    url : str or os.PathLike
        fsspec URL (or local path) of the folder.
    storage_options : mapping, optional
        Passed through :func:`storage_options_for`.
    names : collection of str, optional
        The files to list (e.g. the cell-type files of one level), whether or not
        the folder holds them: ``files`` then has those it holds, and a folder that
        does not exist lists none. Default: the AGEA release files, the table
        required.

    Returns
    -------
    RemoteRelease

    Raises
    ------
    ConnectionError
        If the endpoint cannot be reached (within seconds; the message names the URL
        and how to work offline).
    PermissionError
        If no S3 credentials were found (the message says whether ``anon=True`` helps).
    FileNotFoundError
        If the folder does not exist or holds no AGEA table (AGEA files only, the
        default ``names``).

    Examples
    --------
    >>> import agea_xr
    >>> release = list_release(agea_xr.sample_path())
    >>> release.files["gene-expression.bin"].size
    637304
    """
    text = normalize_url(url)
    options = storage_options_for(text, storage_options)
    with connection_errors(text, options):
        fs, root = filesystem(text, options)
        try:
            entries = fs.ls(root, detail=True, refresh=True)
        except FileNotFoundError:
            entries = []
    release = RemoteRelease(url=text, fs=fs, options=options)
    versions = []
    for entry in entries:
        if entry.get("type") != "file":
            continue
        name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
        if name.endswith(layout.VERSION_SUFFIX):
            versions.append(name)
        elif name in (layout.FILES if names is None else names):
            etag = entry.get("ETag") or entry.get("etag")
            release.files[name] = RemoteFile(
                name=name,
                path=entry["name"],
                size=int(entry["size"]),
                etag=str(etag).strip('"') if etag else None,
            )
    release.version = layout.newest_version(versions)
    if names is None and layout.TABLE_FILE not in release.files:
        found = sorted(e["name"].rsplit("/", 1)[-1] for e in entries)
        raise FileNotFoundError(
            f"No AGEA release at {text!r}{_endpoint(options)}: it holds "
            f"{found[:10] if found else 'nothing'}, an AGEA folder holds "
            f"{layout.TABLE_FILE} and {layout.VARIANTS['raw']}. Check the URL (the official "
            f"release is {layout.BUCKET_URL!r})."
        )
    return release


def iter_blocks(size: int, start: int, block: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` byte ranges of at most ``block`` bytes from ``start`` to ``size``.

    Parameters
    ----------
    size, start, block : int

    Yields
    ------
    tuple of int

    Examples
    --------
    >>> list(iter_blocks(10, 2, 4))
    [(2, 6), (6, 10)]
    """
    for a in range(start, size, block):
        yield a, min(a + block, size)


def check_range(data: bytes, start: int, stop: int, url: str) -> None:
    """Refuse the reply to a byte-range request that holds more than the range.

    A server that ignores the ``Range`` header answers with the whole object:
    more bytes than asked. (Fewer bytes mean a truncated object; the caller says so.)

    Parameters
    ----------
    data : bytes
        The reply.
    start, stop : int
        The byte range asked for, ``stop`` exclusive.
    url : str
        The object's URL, named in the message.

    Raises
    ------
    OSError
        If ``data`` is longer than ``stop - start``.

    Examples
    --------
    >>> check_range(b"abcd", 0, 4, "http://host/agea/gene-expression.bin")
    >>> check_range(b"abcdefgh", 0, 4, "http://host/agea/gene-expression.bin")
    Traceback (most recent call last):
    ...
    OSError: The server of 'http://host/agea/gene-expression.bin' ignores byte-range ...
    """
    if len(data) > stop - start:
        raise OSError(
            f"The server of {url!r} ignores byte-range requests: asked for bytes "
            f"{start:,}-{stop:,} ({stop - start:,} bytes), it sent {len(data):,} bytes "
            "(the whole file, it seems). Reading experiments one at a time needs HTTP "
            "Range requests: serve the folder from a server that supports them (any S3 "
            "store; nginx and Apache do), or download it and open the local copy."
        )


def read_range(
    fs: Any,
    path: str,
    start: int,
    stop: int,
    *,
    url: str,
    options: Mapping[str, Any] | None = None,
) -> bytes:
    """Bytes ``start`` to ``stop`` of a remote file, with failures that name ``url``.

    Parameters
    ----------
    fs : fsspec.AbstractFileSystem
    path : str
        The file's path as ``fs`` knows it.
    start, stop : int
        Byte range, ``stop`` exclusive.
    url : str
        The file's URL, named in messages.
    options : mapping, optional
        Storage options in use (their endpoint is named).

    Returns
    -------
    bytes
        At most ``stop - start`` bytes (fewer if the object is shorter).

    Raises
    ------
    ConnectionError
        If the endpoint cannot be reached or stops answering.
    PermissionError
        If no S3 credentials were found.
    OSError
        If the server ignores byte-range requests (:func:`check_range`).

    Examples
    --------
    >>> import fsspec
    >>> fs = fsspec.filesystem("memory")
    >>> fs.pipe("/agea-doc/x.bin", b"0123456789")
    >>> read_range(fs, "/agea-doc/x.bin", 2, 5, url="memory://agea-doc/x.bin")
    b'234'
    """
    with connection_errors(url, options):
        data = fs.cat_file(path, start=start, end=stop)
    check_range(data, start, stop, url)
    return data
