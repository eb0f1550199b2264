"""Verified, resumable file transfers: partial file, range requests, hashes, rename.

:func:`fetch_file` copies one remote file into a folder the safe way: bytes go
to ``<name>.part`` (a name the reader never opens) in the target folder, in
byte-range requests, so an interrupted transfer resumes where it stopped; the
size, the sha256 (when one is expected) and the server's ETag (when it offers
one) are checked; only then is the file renamed into place, atomically. A file
that fails verification is removed and :class:`ChecksumError` says what was
expected and what came. A multipart ETag whose part size cannot be found is
reported as unverified, never as a pass. The partial file and its note are
created without following links, so a link planted in the folder is never
written through.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._files import open_new, remove
from ..remote import RemoteFile, check_range, is_connection_error, iter_blocks
from .hashes import ChecksumError, EtagChecker
from .plan import UNVERIFIED

__all__ = [
    "BLOCK_SIZE",
    "PARALLEL",
    "PART_SUFFIX",
    "Fetched",
    "check_size",
    "fetch_file",
]

#: Bytes per range request.
BLOCK_SIZE = 8 * 2**20
#: Range requests in flight at once (asynchronous filesystems such as s3fs).
PARALLEL = 4
#: Suffix of a file being transferred (never a release file name).
PART_SUFFIX = ".part"
#: Attempts at a failing round of range requests before giving up (the partial file stays).
ROUND_ATTEMPTS = 3

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fetched:
    """What :func:`fetch_file` wrote.

    Attributes
    ----------
    path : pathlib.Path
        The verified file.
    size : int
        Bytes.
    sha256 : str
        Hex digest of the content.
    verified : str
        How it was checked: ``"sha256 pin"``, ``"etag md5"``, ``"size"`` (the
        server offers no hash) or ``"unverified"`` (its multipart ETag could not
        be checked: no part size tried gives it).
    resumed_from : int
        Bytes already on disk from an interrupted transfer (0 for a fresh one).
    """

    path: Path
    size: int
    sha256: str
    verified: str
    resumed_from: int


def check_size(url: str, size: int, expected: int | None) -> None:
    """Refuse an object whose listed size is not the expected one, before any transfer.

    Raises
    ------
    ValueError
        If ``expected`` is given and differs from ``size``; the message names the URL,
        both sizes, and says that nothing was downloaded.

    Examples
    --------
    >>> check_size("s3://b/agea/label.npy", 10, None)
    >>> check_size("s3://b/agea/label.npy", 10, 12)
    Traceback (most recent call last):
    ...
    ValueError: 's3://b/agea/label.npy' has 10 bytes on the server, expected 12. ...
    """
    if expected is not None and size != expected:
        raise ValueError(
            f"{url!r} has {size:,} bytes on the server, expected {expected:,}. The "
            "object is truncated or belongs to another release; nothing was downloaded. "
            "Check the source URL, or ask its maintainers to upload the file again."
        )


def _part_paths(target: Path) -> tuple[Path, Path]:
    part = target.with_name(target.name + PART_SUFFIX)
    return part, target.with_name(target.name + PART_SUFFIX + ".json")


def _resume_point(part: Path, sidecar: Path, identity: dict[str, Any], size: int) -> int:
    """Bytes of ``part`` to keep: those of an interrupted transfer of the same object."""
    for path in (part, sidecar):
        if path.is_symlink():
            logger.warning(
                "Removing the link %s (to %s): files are never written through a link.",
                path,
                os.readlink(path),
            )
            remove(path)
    start = 0
    if part.is_file():
        try:
            same = json.loads(sidecar.read_text()) == identity
        except (OSError, ValueError):
            same = False
        start = part.stat().st_size if same else 0
        if not same or start > size:
            start = 0
    if not start:
        remove(part)
    remove(sidecar)
    with open_new(sidecar) as note:
        note.write(json.dumps(identity).encode())
    return start


def fetch_file(
    fs: Any,
    remote: RemoteFile,
    target: str | os.PathLike,
    *,
    url: str,
    expected_size: int | None = None,
    expected_sha256: str | None = None,
    progress: bool = True,
) -> Fetched:
    """Copy one remote file to ``target``: resumable, verified, renamed atomically.

    Parameters
    ----------
    fs : fsspec.AbstractFileSystem
        Filesystem holding ``remote``.
    remote : RemoteFile
        The file (its listed size and ETag).
    target : str or os.PathLike
        Final local path; its folder must exist.
    url : str
        URL of the file, named in messages and recorded with a partial transfer.
    expected_size : int, optional
        Size the file must have (else the listed size is used).
    expected_sha256 : str, optional
        sha256 the content must have (a published pin).
    progress : bool, default True
        Show a tqdm bar (bytes, rate, ETA) on stderr.

    Returns
    -------
    Fetched

    Raises
    ------
    ValueError
        If the listed size differs from ``expected_size`` (nothing is transferred),
        or the server sends fewer bytes than it listed.
    ChecksumError
        If the sha256 or the server's ETag does not match; the file is removed.
    OSError
        If the server ignores byte-range requests, or a link sits where the
        partial file is written (:func:`agea_xr._files.open_new`).
    ConnectionError
        If the server cannot be reached or stops responding; the bytes received so
        far stay in ``<target>.part``, and the next call resumes from there.
    """
    from tqdm.auto import tqdm

    target = Path(target)
    size = int(remote.size)
    check_size(url, size, expected_size)
    part, sidecar = _part_paths(target)
    identity = {"url": url, "size": size, "etag": remote.etag}
    start = _resume_point(part, sidecar, identity, size)

    sha = hashlib.sha256()
    etag = EtagChecker(remote.etag, size)
    with open_new(part, append=True) as out:
        if start:
            with open(part, "rb") as done:
                while chunk := done.read(BLOCK_SIZE):
                    sha.update(chunk)
                    etag.update(chunk)
        with tqdm(
            total=size,
            initial=start,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=target.name,
            disable=not progress,
        ) as bar:
            blocks = list(iter_blocks(size, start, BLOCK_SIZE))
            for r in range(0, len(blocks), PARALLEL):
                group = blocks[r : r + PARALLEL]
                try:
                    datas = _fetch_round(fs, remote.path, group, url, out.tell(), size)
                except ChecksumError:
                    out.close()
                    remove(part)
                    remove(sidecar)
                    raise
                for (a, b), data in zip(group, datas, strict=True):
                    check_range(data, a, b, url)
                    if len(data) != b - a:
                        out.flush()
                        raise ValueError(
                            f"{url!r}: the server sent {len(data):,} bytes for bytes "
                            f"{a:,}-{b:,} of a {size:,}-byte file ({b - a:,} expected). The "
                            "object changed or is truncated on the server; "
                            f"{out.tell():,} good bytes are kept in {str(part)!r}."
                        )
                    out.write(data)
                    sha.update(data)
                    etag.update(data)
                    bar.update(len(data))
                out.flush()
    got_size = part.stat().st_size
    got_sha = sha.hexdigest()
    if got_size != size:
        remove(part)
        remove(sidecar)
        raise ValueError(
            f"{url!r}: expected {size:,} bytes, got {got_size:,}. The incomplete file was "
            "removed; download again."
        )
    verified = "size"
    if expected_sha256 is not None:
        if got_sha != expected_sha256:
            remove(part)
            remove(sidecar)
            raise ChecksumError(
                f"{url!r} failed verification: expected sha256 {expected_sha256}, got "
                f"{got_sha}. The corrupted download was removed; download again, and if "
                "this repeats, the file on the server differs from the published release."
            )
        verified = "sha256 pin"
    match, computed = etag.result()
    if match is False:
        remove(part)
        remove(sidecar)
        raise ChecksumError(
            f"{url!r} failed verification: the server's ETag is MD5 {etag.etag}, the "
            f"received bytes have MD5 {computed}. The corrupted download was removed; "
            "download again."
        )
    if match and verified == "size":
        verified = "etag md5"
    elif match is None and etag.etag and verified == "size":
        verified = UNVERIFIED  # an ETag that cannot be checked is no pass
        logger.warning(
            "%s could not be verified: its multipart ETag %s is none of %s (the part "
            "sizes tried). It is kept and recorded as unverified.",
            url,
            etag.etag,
            computed,
        )
    os.replace(part, target)
    remove(sidecar)
    return Fetched(path=target, size=size, sha256=got_sha, verified=verified, resumed_from=start)


def _fetch_round(
    fs: Any, path: str, group: list[tuple[int, int]], url: str, kept: int, size: int
) -> list[bytes]:
    """Fetch a few byte ranges at once, retrying a failing round a few times."""
    paths = [path] * len(group)
    starts = [a for a, _ in group]
    ends = [b for _, b in group]
    attempt = 0
    while True:
        try:
            if len(group) == 1:
                return [fs.cat_file(path, start=starts[0], end=ends[0])]
            return list(fs.cat_ranges(paths, starts, ends, on_error="raise"))
        except Exception as err:
            attempt += 1
            if type(err).__name__ == "FlexibleChecksumError":  # botocore checked the body
                raise ChecksumError(
                    f"{url!r} failed verification: the server's checksum differs from the "
                    f"received bytes ({err}). The corrupted download was removed; download "
                    "again."
                ) from err
            if not is_connection_error(err):
                raise
            if attempt >= ROUND_ATTEMPTS:
                raise ConnectionError(
                    f"The transfer of {url!r} stopped after {kept:,} of {size:,} bytes "
                    f"({type(err).__name__}: {err}). The bytes received are kept; run the "
                    "download again to resume from there (or work offline: "
                    "agea_xr.open_sample(), or open a local copy by its folder)."
                ) from err
            time.sleep(0.5 * attempt)
