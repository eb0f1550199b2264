"""What to do with each file: pure decisions from the manifest, a stat and a listing.

No function here touches the disk or the network: each takes what is known (a
manifest entry, a file's size and mtime, the bucket's listing of the object)
and answers, in the style of pooch's ``download_action``. The code that acts on
the answers lives in :mod:`agea_xr.fetch.sync` and :mod:`agea_xr.fetch.adopt`.

``verified`` values recorded in the manifest, strongest first: ``"sha256 pin"``
(the published hash), ``"recorded sha256"`` (the hash recorded when the same
object was downloaded), ``"etag md5"`` (the server's MD5 ETag, single-part or
multipart), ``"size"`` (the server offers no hash to compare with), and
:data:`UNVERIFIED` (the server offers an ETag that could not be checked: a
multipart ETag whose part size is not found; never counted as a pass).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from .. import layout
from .location import needed

__all__ = [
    "UNVERIFIED",
    "complete_folder",
    "download_action",
    "entry_matches",
    "expected_sha256",
    "is_current",
    "same_content",
]

#: ``verified`` of a file whose ETag could not be checked (reported, never a pass).
UNVERIFIED = "unverified"

#: ``(size, mtime_ns)`` of a local file, or None if it is absent.
Stat = tuple[int, int] | None


def entry_matches(entry: Mapping[str, Any], stat: Stat, ours: bool) -> bool:
    """Whether a recorded file is still the one recorded.

    Parameters
    ----------
    entry : mapping
        Its manifest entry.
    stat : tuple of int or None
        ``(size, mtime_ns)`` of the file now, None if it is absent.
    ours : bool
        Whether it lies in the cache folder (only agea-xr writes there, so its
        size suffices); elsewhere the mtime must also be the recorded one.

    Returns
    -------
    bool

    Examples
    --------
    >>> entry_matches({"size": 10, "mtime_ns": 5}, (10, 6), ours=True)
    True
    >>> entry_matches({"size": 10, "mtime_ns": 5}, (10, 6), ours=False)
    False
    >>> entry_matches({"size": 10}, None, ours=True)
    False
    """
    if stat is None or stat[0] != entry.get("size"):
        return False
    return ours or entry.get("mtime_ns") == stat[1]


def is_current(entry: Mapping[str, Any] | None, remote: Any, url: str, version: str) -> bool:
    """Whether a manifest entry records this very remote object (URL, version, size, ETag).

    Parameters
    ----------
    entry : mapping or None
    remote : agea_xr.remote.RemoteFile
        The listing of the object (``size``, ``etag``).
    url : str
        The release URL.
    version : str
        The release version now.

    Returns
    -------
    bool
    """
    if not entry:
        return False
    return (
        entry.get("source") == url
        and entry.get("version") == version
        and entry.get("size") == remote.size
        and (entry.get("etag") is None or remote.etag is None or entry["etag"] == remote.etag)
    )


def download_action(
    entry: Mapping[str, Any] | None, stat: Stat, remote: Any, url: str, version: str
) -> Literal["current", "download"]:
    """What :func:`agea_xr.fetch.sync` does with one file of the cache folder.

    Parameters
    ----------
    entry : mapping or None
        The file's manifest entry.
    stat : tuple of int or None
        ``(size, mtime_ns)`` of the file in the cache folder, None if absent.
    remote : agea_xr.remote.RemoteFile
        The bucket's listing of the object.
    url, version : str
        The release URL and its version now.

    Returns
    -------
    {"current", "download"}
        ``"current"`` if the file is there, as recorded, and records this object;
        else ``"download"`` (absent, changed, unrecorded, or another object).

    Examples
    --------
    >>> from agea_xr.remote import RemoteFile
    >>> remote = RemoteFile("label.npy", "b/label.npy", 10, "e")
    >>> entry = {"size": 10, "etag": "e", "source": "s3://b", "version": "v"}
    >>> download_action(entry, (10, 0), remote, "s3://b", "v")
    'current'
    >>> download_action(entry, (9, 0), remote, "s3://b", "v")
    'download'
    >>> download_action(entry, (10, 0), remote, "s3://b", "w")
    'download'
    """
    if entry is not None and is_current(entry, remote, url, version):
        return "current" if entry_matches(entry, stat, ours=True) else "download"
    return "download"


def complete_folder(
    manifest: Mapping[str, Any], variant: str, own: Path, stat: Callable[[Path], Stat]
) -> Path | None:
    """A folder whose recorded files make a consistent, unchanged release of ``variant``.

    Parameters
    ----------
    manifest : mapping
        As :func:`agea_xr.fetch.read_manifest` returns it.
    variant : {"raw", "processed"}
    own : pathlib.Path
        The cache folder (tried first).
    stat : callable
        ``stat(path) -> (size, mtime_ns)`` or None (the one place files are looked at).

    Returns
    -------
    pathlib.Path or None
        The first folder whose recorded table and binary (and label and image, if
        recorded) share one version and source and match their entries.
    """
    by_folder: dict[Path, dict[str, Mapping[str, Any]]] = {}
    for key, entry in manifest["files"].items():
        path = Path(key)
        by_folder.setdefault(path.parent, {})[path.name] = entry
    required = (layout.TABLE_FILE, layout.binary_file(variant))
    for folder in sorted(by_folder, key=lambda p: p != own):
        entries = by_folder[folder]
        if not all(name in entries for name in required):
            continue
        names = [n for n in needed(variant) if n in entries]
        if len({(entries[n].get("version"), entries[n].get("source")) for n in names}) != 1:
            continue
        if all(entry_matches(entries[n], stat(folder / n), folder == own) for n in names):
            return folder
    return None


def _recorded_sha256(manifest: Mapping[str, Any], remote: Any, url: str, exclude: Path):
    """The sha256 our manifest records for this very remote object (same URL, size, ETag).

    An unverified download counts too: two independent copies that agree are the
    object (what one transfer corrupted, the other would not have corrupted alike).
    """
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


def _is_md5(etag: str | None) -> bool:
    text = (etag or "").strip('"').lower()
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)


def same_content(
    name: str,
    known: Mapping[str, Any],
    remote: Any,
    url: str,
    pinned: bool,
    manifest: Mapping[str, Any],
    path: Path,
) -> str | bool | None:
    """Whether a local file is the remote object, from what is ``known`` of its content.

    Parameters
    ----------
    name : str
        Release file name.
    known : mapping
        The file's ``sha256`` and ``md5`` (and, freshly computed, ``etag_match``;
        or, from the manifest, the ``etag`` and ``verified`` method of an earlier
        check).
    remote : agea_xr.remote.RemoteFile
    url : str
        The release URL.
    pinned : bool
        Whether the release is the one the sha256 pins were published for.
    manifest : mapping
        Where a sha256 recorded for the same object may be found.
    path : pathlib.Path
        The local file (its own entry is not evidence for itself).

    Returns
    -------
    str, False or None
        How the identity was established (a ``verified`` value), False if the
        content differs, None if it cannot be told from ``known``. The version
        marker plays no part; an earlier :data:`UNVERIFIED` is no evidence.

    Examples
    --------
    >>> from agea_xr.remote import RemoteFile
    >>> remote = RemoteFile("label.npy", "b/label.npy", 10, "0" * 32)
    >>> empty = {"files": {}}
    >>> same_content("label.npy", {"md5": "0" * 32}, remote, "s3://b", False, empty, Path("x"))
    'etag md5'
    >>> multipart = RemoteFile("label.npy", "b/label.npy", 10, "0" * 32 + "-2")
    >>> same_content("label.npy", {"etag_match": None}, multipart, "s3://b", False, empty,
    ...              Path("x")) is None
    True
    """
    if (
        remote.etag
        and known.get("etag") == remote.etag
        and known.get("source") == url
        and known.get("verified") not in (None, UNVERIFIED)
    ):
        return known["verified"]  # checked against this very object before
    pin = layout.PINNED.get(name, (None, None))[1] if pinned else None
    sha = known.get("sha256")
    if pin is not None:  # the release the pins were published for: they are the identity
        return "sha256 pin" if sha == pin else False
    recorded = _recorded_sha256(manifest, remote, url, path)
    if recorded is not None and sha is not None:
        return "recorded sha256" if sha == recorded else False
    if _is_md5(remote.etag) and known.get("md5"):
        return "etag md5" if known["md5"] == remote.etag.strip('"').lower() else False
    match = known.get("etag_match")
    if match is not None:
        return "etag md5" if match else False
    return None


def expected_sha256(entry: Mapping[str, Any], name: str) -> list[str]:
    """The sha256 values a recorded file must still have (recorded, and the pin).

    Parameters
    ----------
    entry : mapping
        Its manifest entry.
    name : str
        Release file name.

    Returns
    -------
    list of str

    Examples
    --------
    >>> expected_sha256({"sha256": "ab", "source": "s3://mirror"}, "label.npy")
    ['ab']
    """
    expected = [entry["sha256"]] if entry.get("sha256") else []
    official = entry.get("source") == layout.BUCKET_URL
    if official and entry.get("version") == layout.PINNED_VERSION:
        pin = layout.PINNED.get(name, (None, None))[1]
        if pin is not None:
            expected.append(pin)
    return expected
