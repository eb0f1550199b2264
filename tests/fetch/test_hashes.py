"""Hashes and ETags, on bytes in memory and small files (issue 10, case 11)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from agea_xr.fetch import hashes

pytest_plugins = ["tests.s3server"]

MIB = 2**20


def s3_etag(data: bytes, part: int) -> str:
    """The ETag S3 gives ``data`` uploaded in parts of ``part`` bytes."""
    digests = [hashlib.md5(data[i : i + part]).digest() for i in range(0, len(data), part)]
    return hashes.multipart_etag(digests)


@pytest.fixture(scope="module")
def data() -> bytes:
    return np.random.default_rng(0).bytes(33 * MIB + 4321)


@pytest.mark.parametrize("part", [8 * MIB, 16 * MIB, 5 * MIB, 6 * MIB])
def test_multipart_etags_of_usual_part_sizes_are_verified(data, part):
    etag = s3_etag(data, part)
    assert part in hashes.part_sizes(len(data), int(etag.split("-")[1]))
    checker = hashes.EtagChecker(etag, len(data))
    for k in range(0, len(data), 3 * MIB + 17):  # chunks unaligned with the parts
        checker.update(data[k : k + 3 * MIB + 17])
    assert checker.result() == (True, etag)


@pytest.mark.parametrize("part", [8 * MIB, 5 * MIB + 12_345])
def test_a_corrupted_stream_is_never_a_pass(data, part):
    etag = s3_etag(data, part)
    bad = bytearray(data)
    bad[12 * MIB] ^= 1
    checker = hashes.EtagChecker(etag, len(data))
    checker.update(bytes(bad))
    match, computed = checker.result()
    assert match is None  # cannot tell: the part size of a mismatch is unknown
    assert etag not in computed


def test_digest_file_reports_an_undecidable_multipart_etag_as_none(tmp_path, data):
    path = tmp_path / "x.bin"
    path.write_bytes(data)
    good = hashes.digest_file(path, s3_etag(data, 8 * MIB))
    assert good.etag_match is True and good.md5 == hashlib.md5(data).hexdigest()
    odd = hashes.digest_file(path, s3_etag(data, 5 * MIB + 12_345))
    assert odd.etag_match is None and odd.sha256 == hashlib.sha256(data).hexdigest()
    assert hashes.digest_file(path, '"' + hashlib.md5(data).hexdigest() + '"').etag_match
    assert hashes.digest_file(path, "0" * 32).etag_match is False
    assert hashes.digest_file(path, "not-an-etag").etag_match is None
    assert hashes.digest_file(path).etag_match is None


def test_part_sizes_follow_the_count():
    size = 1_384_592_940  # about the release's binary
    assert hashes.part_sizes(size, 166) == [8 * MIB]  # AWS CLI / boto3 default
    assert hashes.part_sizes(size, 83) == [16 * MIB]
    assert hashes.part_sizes(size, 27)[0] == 50 * MIB  # s3fs, tried first
    assert hashes.part_sizes(size, 1) == [size]
    assert hashes.part_sizes(size, 0) == [] and hashes.part_sizes(0, 3) == []
    for n in (2, 3, 7, 166, 1000):
        found = hashes.part_sizes(size, n)
        assert len(found) <= hashes.MAX_CANDIDATES
        assert all(-(-size // p) == n for p in found)
