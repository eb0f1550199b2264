"""Hashes of files and streams: sha256, MD5 and S3 ETags (single-part and multipart).

A single-part S3 ETag is the MD5 of the object. A multipart one,
``<md5 of the parts' MD5s>-<number of parts>``, depends on the part size, which
S3 does not publish; :func:`part_sizes` derives the candidates from the part
count and the sizes upload tools use (5, 8, 16, 64, 100 MiB... and every whole
MiB consistent with the count), and :class:`EtagChecker` computes them all in
the same pass. When none matches, the check cannot decide: that is reported as
such (``None``), never as a pass.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "COMMON_PART_SIZES",
    "ChecksumError",
    "Digest",
    "EtagChecker",
    "digest_file",
    "hash_file",
    "multipart_etag",
    "part_sizes",
]

_MIB = 2**20
#: Bytes read at a time when hashing a file.
READ_BLOCK = 8 * _MIB
#: Part sizes of common S3 upload tools (AWS CLI and boto3: 8 MiB; the S3 minimum:
#: 5 MiB; s3fs: 50 MiB; others: 16, 32, 64, 100, 128, 256, 512 MiB, 1 GiB), tried first.
COMMON_PART_SIZES = tuple(
    m * _MIB for m in (8, 5, 16, 50, 64, 100, 128, 15, 10, 32, 256, 512, 1024, 25, 20)
)
#: At most this many part sizes are computed for one multipart ETag.
MAX_CANDIDATES = 6


class ChecksumError(ValueError):
    """A file's content is not the expected one (its hash or ETag differs)."""


def _blocks(path: str | os.PathLike, progress: bool, desc: str | None) -> Iterator[bytes]:
    """The file's bytes in blocks, with a "checking" progress bar."""
    from tqdm.auto import tqdm

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
        while chunk := f.read(READ_BLOCK):
            yield chunk
            bar.update(len(chunk))


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
        ETag was given or it cannot be decided (a multipart ETag whose part size
        is not among those tried).
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
        of the content) or a multipart one (``<md5>-<parts>``; the part sizes of
        :func:`part_sizes` are tried).
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
    checker = EtagChecker(etag, os.path.getsize(path))
    for chunk in _blocks(path, progress, desc):
        sha.update(chunk)
        md5.update(chunk)
        checker.update(chunk, single=False)
    match: bool | None = None
    if checker.single:
        match = md5.hexdigest() == checker.etag
    elif checker.etag:
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


def part_sizes(size: int, parts: int) -> list[int]:
    """Part sizes that split ``size`` bytes into exactly ``parts`` parts, likeliest first.

    Parameters
    ----------
    size : int
        Bytes of the object.
    parts : int
        Number of parts (the ``-<n>`` of its ETag), at least 1.

    Returns
    -------
    list of int
        At most :data:`MAX_CANDIDATES` sizes: the :data:`COMMON_PART_SIZES`
        consistent with the count, then whole MiB (powers of two first). For one
        part any size gives the same ETag, so one is returned.

    Examples
    --------
    >>> [p // 2**20 for p in part_sizes(1_384_592_940, 166)]  # the AWS CLI's 8 MiB
    [8]
    >>> [p // 2**20 for p in part_sizes(6_373_040, 2)]
    [5, 4, 6]
    """
    if parts < 1 or size < 1:
        return []
    if parts == 1:
        return [max(size, 5 * _MIB)]
    low = -(-size // parts)  # the smallest part size giving ``parts`` parts
    high = (size - 1) // (parts - 1)  # the largest (the last part is not empty)

    def fits(p: int) -> bool:
        return low <= p <= high and -(-size // p) == parts

    found = [p for p in COMMON_PART_SIZES if fits(p)]
    whole = [m * _MIB for m in range(max(1, -(-low // _MIB)), high // _MIB + 1)]
    whole.sort(key=lambda p: (((p // _MIB) & (p // _MIB - 1)) != 0, p))
    found += [p for p in whole[: 4 * MAX_CANDIDATES] if fits(p) and p not in found]
    return found[:MAX_CANDIDATES]


class EtagChecker:
    """MD5 over a stream, as the server computed its ETag, when that can be known.

    Parameters
    ----------
    etag : str or None
        The object's ETag (quotes allowed): ``<md5>`` or ``<md5>-<parts>``.
    size : int
        Bytes of the object.

    Attributes
    ----------
    etag : str
        The ETag, normalised; ``""`` when there is none to check (absent or not an
        MD5 form).
    single : bool
        Whether it is a single-part ETag (the MD5 of the content).
    parts : int
        Number of parts of a multipart ETag (0 otherwise).

    Examples
    --------
    >>> checker = EtagChecker(hashlib.md5(b"abc").hexdigest(), 3)
    >>> checker.update(b"abc")
    >>> checker.result()[0]
    True
    """

    def __init__(self, etag: str | None, size: int) -> None:
        self.etag = (etag or "").strip('"').lower()
        self.single = False
        self.parts = 0
        self._md5: Any = None
        self._candidates: list[tuple[int, Any, list[bytes], int]] = []
        md5, _, count = self.etag.partition("-")
        if len(md5) != 32 or any(c not in "0123456789abcdef" for c in md5):
            self.etag = ""
        elif not count:
            self.single = True
            self._md5 = hashlib.md5()
        elif count.isdigit() and int(count) >= 1:
            self.parts = int(count)
            sizes = part_sizes(size, self.parts)
            self._candidates = [(p, hashlib.md5(), [], 0) for p in sizes]
        else:
            self.etag = ""

    def update(self, data: bytes | memoryview, *, single: bool = True) -> None:
        """Add the next bytes (``single=False``: the caller computes the plain MD5)."""
        if self._md5 is not None and single:
            self._md5.update(data)
        for k, (part, md5, digests, filled) in enumerate(self._candidates):
            view = memoryview(data)
            while len(view):
                take = min(part - filled, len(view))
                md5.update(view[:take])
                filled += take
                view = view[take:]
                if filled == part:
                    digests.append(md5.digest())
                    md5, filled = hashlib.md5(), 0
            self._candidates[k] = (part, md5, digests, filled)

    def result(self) -> tuple[bool | None, str]:
        """Whether the stream matches the ETag, and what was computed.

        Returns
        -------
        match : bool or None
            True: matches. False: differs (a single-part ETag, or a multipart one
            whose part count the content cannot have). None: cannot be decided
            (no ETag, or no candidate part size gives it).
        computed : str
            The MD5 (single-part), or the ETags computed for each candidate part size.
        """
        if not self.etag:
            return None, ""
        if self.single:
            got = self._md5.hexdigest()
            return got == self.etag, got
        computed = []
        for _part, md5, digests, filled in self._candidates:
            final = digests + ([md5.digest()] if filled else [])
            computed.append(multipart_etag(final))
        if self.etag in computed:
            return True, self.etag
        return None, ", ".join(computed) or "no part size gives that count"
