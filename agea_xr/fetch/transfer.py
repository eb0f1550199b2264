"""Verified, resumable file transfers: temporary file, range requests, hashes, rename.

:func:`fetch_file` copies one remote file into a folder the safe way: bytes go
to ``<name>.part`` (a name the reader never opens) in the target folder, in
byte-range requests, so an interrupted transfer resumes where it stopped; the
size, the sha256 (when one is expected) and the server's MD5 ETag (when it
offers one) are checked; only then is the file renamed into place, atomically.
A file that fails verification is removed and :class:`ChecksumError` says what
was expected and what came.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..remote import RemoteFile, is_connection_error, iter_blocks

__all__ = [
    "BLOCK_SIZE",
    "PARALLEL",
    "PART_SUFFIX",
    "ChecksumError",
    "Digest",
    "Fetched",
    "digest_file",
    "fetch_file",
    "hash_file",
    "multipart_etag",
]

#: Bytes per range request.
BLOCK_SIZE = 8 * 2**20
#: Range requests in flight at once (asynchronous filesystems such as s3fs).
PARALLEL = 4
#: Suffix of a file being transferred (never a release file name).
PART_SUFFIX = ".part"
#: Attempts at a failing round of range requests before giving up (the partial file stays).
ROUND_ATTEMPTS = 3
_MIB = 2**20


class ChecksumError(ValueError):
    """A file's content is not the expected one (its hash or ETag differs)."""


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
        How it was checked: ``"sha256 pin"``, ``"etag md5"`` or ``"size"``.
    resumed_from : int
        Bytes already on disk from an interrupted transfer (0 for a fresh one).
    """

    path: Path
    size: int
    sha256: str
    verified: str
    resumed_from: int


def hash_file(path: str | os.PathLike, *, progress: bool = False, desc: str = "") -> str:
    """sha256 of a file, read in blocks.

    Parameters
    ----------
    path : str or os.PathLike
    progress : bool, default False
        Show a tqdm progress bar.
    desc : str, optional
        Label of the bar.

    Returns
    -------
    str
        Hex digest.

    Examples
    --------
    >>> import agea_xr
    >>> path = agea_xr.sample_path() / "label.npy"
    >>> hash_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    True
    """
    digest = hashlib.sha256()
    for chunk in _blocks(path, progress, desc):
        digest.update(chunk)
    return digest.hexdigest()


def _blocks(path: str | os.PathLike, progress: bool, desc: str | None) -> Iterator[bytes]:
    """The file's bytes in blocks, with a "checking" progress bar."""
    from tqdm import tqdm

    with (
        open(path, "rb") as f,
        tqdm(
            total=os.path.getsize(path),
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=f"checking {desc}" if desc else "checking",
            disable=not progress,
        ) as bar,
    ):
        while chunk := f.read(BLOCK_SIZE):
            yield chunk
            bar.update(len(chunk))


@dataclass(frozen=True)
class Digest:
    """What :func:`digest_file` computed over a file, in one pass.

    Attributes
    ----------
    sha256 : str
        Hex digest.
    md5 : str
        Hex digest (what a single-part S3 ETag is).
    etag_match : bool or None
        Whether the content matches the ETag given: True, False, or None when no
        ETag was given or it cannot be confirmed (a multipart ETag whose part
        size is not among those tried).
    """

    sha256: str
    md5: str
    etag_match: bool | None = None


def digest_file(
    path: str | os.PathLike, etag: str | None = None, *, progress: bool = False, desc: str = ""
) -> Digest:
    """sha256 and MD5 of a file, and whether it matches an S3 ETag, reading it once.

    Parameters
    ----------
    path : str or os.PathLike
    etag : str, optional
        The ETag of the object the file should equal: a single-part one (the MD5
        of the content) or a multipart one (``<md5>-<parts>``, whose part sizes
        in whole MiB consistent with the count are tried).
    progress : bool, default False
        Show a tqdm progress bar.
    desc : str, optional
        Label of the bar.

    Returns
    -------
    Digest

    Examples
    --------
    >>> import agea_xr
    >>> path = agea_xr.sample_path() / "label.npy"
    >>> digest = digest_file(path, etag=hashlib.md5(path.read_bytes()).hexdigest())
    >>> digest.etag_match, digest.sha256 == hash_file(path)
    (True, True)
    >>> digest_file(path, etag="0" * 32).etag_match
    False
    """
    sha, md5 = hashlib.sha256(), hashlib.md5()
    checker = _EtagChecker(etag, os.path.getsize(path))
    multipart = bool(checker.parts)
    for chunk in _blocks(path, progress, desc):
        sha.update(chunk)
        md5.update(chunk)
        if multipart:
            checker.update(chunk)
    match: bool | None = None
    if checker.single is not None:
        match = md5.hexdigest() == checker.etag
    elif multipart:
        match = checker.result()[0]
    return Digest(sha256=sha.hexdigest(), md5=md5.hexdigest(), etag_match=match)


def multipart_etag(part_digests: list[bytes]) -> str:
    """The ETag S3 gives an object uploaded in parts with these MD5 digests.

    Parameters
    ----------
    part_digests : list of bytes
        Raw MD5 digests of the parts, in order.

    Returns
    -------
    str
        ``md5(concatenated digests)-<number of parts>``.

    Examples
    --------
    >>> import hashlib
    >>> multipart_etag([hashlib.md5(b"a").digest(), hashlib.md5(b"b").digest()])[-2:]
    '-2'
    """
    return f"{hashlib.md5(b''.join(part_digests)).hexdigest()}-{len(part_digests)}"


class _EtagChecker:
    """MD5 over the stream, as the server computed its ETag, when that can be known.

    A single-part ETag is the MD5 of the content. A multipart ETag (``<md5>-<n>``)
    depends on the part size, which is not published: the part sizes in whole MiB
    consistent with ``n`` parts are tried (at most four, powers of two first).
    """

    def __init__(self, etag: str | None, size: int) -> None:
        self.etag = (etag or "").strip('"').lower()
        self.single = None
        self.parts: list[tuple[int, Any, list[bytes], int]] = []
        if not self.etag:
            return
        md5, _, count = self.etag.partition("-")
        if len(md5) != 32 or any(c not in "0123456789abcdef" for c in md5):
            self.etag = ""
        elif not count:
            self.single = hashlib.md5()
        elif count.isdigit() and int(count) >= 1:
            n = int(count)
            low = -(-size // n)  # smallest part size giving n parts
            high = size // (n - 1) if n > 1 else 5 * 2**30
            sizes = [m * _MIB for m in range(max(1, -(-low // _MIB)), high // _MIB + 1)]
            sizes = [p for p in sizes if -(-size // p) == n]
            sizes.sort(key=lambda p: (((p // _MIB) & (p // _MIB - 1)) != 0, p))
            self.parts = [(p, hashlib.md5(), [], 0) for p in sizes[:4]]
        else:
            self.etag = ""

    def update(self, data: bytes | memoryview) -> None:
        if self.single is not None:
            self.single.update(data)
        for k, (part, md5, digests, filled) in enumerate(self.parts):
            view = memoryview(data)
            while len(view):
                take = min(part - filled, len(view))
                md5.update(view[:take])
                filled += take
                view = view[take:]
                if filled == part:
                    digests.append(md5.digest())
                    md5, filled = hashlib.md5(), 0
            self.parts[k] = (part, md5, digests, filled)

    def result(self) -> tuple[bool | None, str]:
        """(True: matches, False: differs, None: cannot tell; what was computed)."""
        if self.single is not None:
            got = self.single.hexdigest()
            return got == self.etag, got
        computed = []
        for _part, md5, digests, filled in self.parts:
            final = digests + ([md5.digest()] if filled else [])
            computed.append(multipart_etag(final))
        if self.etag in computed:
            return True, self.etag
        return None, ", ".join(computed)


def _part_paths(target: Path) -> tuple[Path, Path]:
    part = target.with_name(target.name + PART_SUFFIX)
    return part, target.with_name(target.name + PART_SUFFIX + ".json")


def _remove(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


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
        If the sha256 or the server's MD5 ETag does not match; the file is removed.
    ConnectionError
        If the server cannot be reached or stops responding; the bytes received so
        far stay in ``<target>.part``, and the next call resumes from there.
    """
    from tqdm import tqdm

    target = Path(target)
    size = int(remote.size)
    if expected_size is not None and size != expected_size:
        raise ValueError(
            f"{url!r} has {size:,} bytes on the server, expected {expected_size:,}. The "
            "object is truncated or belongs to another release; nothing was downloaded. "
            "Check the source URL, or ask its maintainers to upload the file again."
        )
    part, sidecar = _part_paths(target)
    identity = {"url": url, "size": size, "etag": remote.etag}
    start = 0
    if part.exists():
        try:
            same = json.loads(sidecar.read_text()) == identity
        except (OSError, ValueError):
            same = False
        start = part.stat().st_size if same else 0
        if not same or start > size:
            _remove(part, sidecar)
            start = 0
    sidecar.write_text(json.dumps(identity))

    sha = hashlib.sha256()
    etag = _EtagChecker(remote.etag, size)
    with open(part, "ab") as out:
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
                    _remove(part, sidecar)
                    raise
                for (a, b), data in zip(group, datas, strict=True):
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
        _remove(part, sidecar)
        raise ValueError(
            f"{url!r}: expected {size:,} bytes, got {got_size:,}. The incomplete file was "
            "removed; download again."
        )
    verified = "size"
    if expected_sha256 is not None:
        if got_sha != expected_sha256:
            _remove(part, sidecar)
            raise ChecksumError(
                f"{url!r} failed verification: expected sha256 {expected_sha256}, got "
                f"{got_sha}. The corrupted download was removed; download again, and if "
                "this repeats, the file on the server differs from the published release."
            )
        verified = "sha256 pin"
    match, computed = etag.result()
    if match is False:
        _remove(part, sidecar)
        raise ChecksumError(
            f"{url!r} failed verification: the server's ETag is MD5 {etag.etag}, the "
            f"received bytes have MD5 {computed}. The corrupted download was removed; "
            "download again."
        )
    if match and verified == "size":
        verified = "etag md5"
    os.replace(part, target)
    _remove(sidecar)
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
