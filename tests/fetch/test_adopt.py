"""Adopting copies agea-xr did not download: a copy in the cache folder, iblatlas' cache."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

import agea_xr
from agea_xr import layout
from agea_xr.fetch import ChecksumError, adopt, location, read_manifest, sync
from agea_xr.testing import write_synthetic

from .helpers import (
    RAW,
    SMALL,
    N,
    count_hashing,
    flip_one_byte,
    iblatlas,
    one_config,
    sha256,
    snapshot,
)

pytest_plugins = ["tests.s3server"]


def test_a_copy_placed_in_the_cache_folder_is_adopted(tmp_path):
    folder = location.cache_dir()
    write_synthetic(folder, 4, version="2026-01-01")
    assert agea_xr.open_dataset().sizes["experiment"] == 4
    entry = read_manifest()["files"][str(folder / RAW)]
    assert entry["source"] == location.LOCAL_COPY and entry["verified"] == "size"
    assert entry["sha256"] == sha256(folder / RAW)


def test_a_wrong_size_binary_in_the_cache_is_not_used(tmp_path):
    folder = location.cache_dir()
    write_synthetic(folder, 4, version="2026-01-01")
    with open(folder / RAW, "ab") as f:
        f.write(b"\0\0")
    with pytest.raises(FileNotFoundError, match="does not hold the raw"):
        agea_xr.open_dataset()


def test_iblatlas_cache_is_reused_read_only(tmp_path, monkeypatch):
    home = tmp_path / "home"
    root = tmp_path / "ONE" / "openalyx.internationalbrainlab.org"
    ibl = write_synthetic(root.joinpath(*layout.IBLATLAS_CACHE_SUBDIR), N, version="2026-01-01")
    one_config(home, root)
    monkeypatch.setenv("HOME", str(home))
    before = snapshot(ibl)
    assert adopt.iblatlas_cache() == ibl
    ds = agea_xr.open_dataset(chunks=None)
    assert ds.attrs["source"] == str(ibl)
    np.testing.assert_array_equal(ds.expression[3].values, agea_xr.open_dataset(ibl).expression[3])
    assert snapshot(ibl) == before  # nothing written there
    entry = read_manifest()["files"][str(ibl / RAW)]
    assert entry["source"] == layout.BUCKET_URL and entry["sha256"] == sha256(ibl / RAW)
    assert not (location.cache_dir() / RAW).exists()  # no second copy


def test_iblatlas_copy_failing_the_pins_is_not_used(tmp_path, monkeypatch):
    home = tmp_path / "home"
    root = tmp_path / "ONE"
    ibl = write_synthetic(root.joinpath(*layout.IBLATLAS_CACHE_SUBDIR), 4, version="2025-03-18")
    one_config(home, root)
    monkeypatch.setenv("HOME", str(home))
    hashed = count_hashing(monkeypatch)
    with pytest.raises(FileNotFoundError, match="does not hold the raw"):
        agea_xr.open_dataset()
    assert (ibl / RAW).exists()  # not ours: never deleted
    assert hashed  # the files were hashed, and the failure recorded
    rejected = read_manifest()["rejected"]
    assert list(rejected) == [str(ibl / layout.TABLE_FILE)]
    assert rejected[str(ibl / layout.TABLE_FILE)]["sha256"] == sha256(ibl / layout.TABLE_FILE)
    assert read_manifest()["files"] == {}
    hashed.clear()
    with pytest.raises(FileNotFoundError, match="does not hold the raw"):
        agea_xr.open_dataset()
    assert hashed == []  # not hashed again on every open while unchanged
    os.utime(ibl / layout.TABLE_FILE, ns=(1, 1))  # the file changed: verified again
    with pytest.raises(FileNotFoundError, match="does not hold the raw"):
        agea_xr.open_dataset()
    assert layout.TABLE_FILE in hashed


def test_no_one_configuration_creates_nothing(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    assert adopt.iblatlas_cache() is None
    with pytest.raises(FileNotFoundError):
        agea_xr.open_dataset()
    assert list(home.iterdir()) == []  # no ~/.one, no ~/Downloads/ONE


def test_download_uses_a_current_iblatlas_copy(s3_server, official, tmp_path, monkeypatch):
    official("2026-01-01")
    ibl = iblatlas(tmp_path, monkeypatch, "2026-01-01")
    hashed = count_hashing(monkeypatch)
    opts = {"endpoint_url": s3_server.endpoint}
    report = sync(storage_options=opts, progress=False)
    assert report.reused_iblatlas and report.folder == ibl and report.downloaded == []
    assert sorted(hashed) == sorted([*SMALL, RAW])  # each file verified once
    entry = read_manifest()["files"][str(ibl / RAW)]
    assert entry["verified"] == "etag md5" and entry["sha256"] == sha256(ibl / RAW)
    assert entry["etag"] == hashlib.md5((ibl / RAW).read_bytes()).hexdigest()
    assert agea_xr.open_dataset().attrs["source"] == str(ibl)
    hashed.clear()
    again = sync(storage_options=opts, progress=False)
    assert again.reused_iblatlas and again.downloaded == []
    assert hashed == []  # recorded: never re-hashed while unchanged


@pytest.mark.parametrize("marker", ["2026-01-01", "2024-01-21"])
def test_an_iblatlas_copy_differing_from_the_bucket_is_not_used(
    s3_server, official, tmp_path, monkeypatch, marker
):
    # same size as the bucket's binary, one byte different: the marker (the bucket's
    # own, or an older one) decides nothing, the content does
    official("2026-01-01")
    ibl = iblatlas(tmp_path, monkeypatch, marker)
    flip_one_byte(ibl / RAW, 3 * layout.VOLUME_BYTES + 101)
    report = sync(storage_options={"endpoint_url": s3_server.endpoint}, progress=False)
    assert not report.reused_iblatlas and report.folder == location.cache_dir()
    assert sorted(report.downloaded) == sorted([*SMALL, RAW])
    assert str(ibl / RAW) not in read_manifest()["files"]
    assert agea_xr.open_dataset().attrs["source"] == str(location.cache_dir())


def test_an_iblatlas_copy_with_an_old_marker_but_the_current_content_is_used(
    s3_server, official, tmp_path, monkeypatch
):
    official("2026-01-01")
    ibl = iblatlas(tmp_path, monkeypatch, "2024-01-21")
    report = sync(storage_options={"endpoint_url": s3_server.endpoint}, progress=False)
    assert report.reused_iblatlas and report.downloaded == []
    assert read_manifest()["files"][str(ibl / RAW)]["version"] == "2026-01-01"


def test_an_iblatlas_copy_adopted_offline_is_checked_against_the_bucket_without_rehashing(
    s3_server, official, tmp_path, monkeypatch
):
    official("2026-01-01")
    ibl = iblatlas(tmp_path, monkeypatch, "2026-01-01")
    assert agea_xr.open_dataset().attrs["source"] == str(ibl)  # offline: size only
    assert read_manifest()["files"][str(ibl / RAW)]["verified"] == "size"
    hashed = count_hashing(monkeypatch)
    report = sync(storage_options={"endpoint_url": s3_server.endpoint}, progress=False)
    assert report.reused_iblatlas and report.downloaded == []
    assert hashed == []  # the MD5 recorded at adoption answers the single-part ETags
    assert read_manifest()["files"][str(ibl / RAW)]["verified"] == "etag md5"


def test_an_iblatlas_binary_is_verified_by_a_multipart_etag(
    s3_server, official, tmp_path, monkeypatch
):
    official("2026-01-01", n=20, part_size=5 * 2**20)  # 6.4 MB: two parts of 5 MiB
    ibl = iblatlas(tmp_path, monkeypatch, "2026-01-01", n=20)
    report = sync(storage_options={"endpoint_url": s3_server.endpoint}, progress=False)
    assert report.reused_iblatlas and report.downloaded == []
    entry = read_manifest()["files"][str(ibl / RAW)]
    assert entry["etag"].endswith("-2") and entry["verified"] == "etag md5"


def test_an_unverifiable_iblatlas_binary_is_used_only_against_recorded_hashes(
    s3_server, official, tmp_path, monkeypatch
):
    # parts of 5 MiB + 12,345 bytes: no whole-MiB part size gives the ETag
    official("2026-01-01", n=20, part_size=5 * 2**20 + 12_345)
    ibl = iblatlas(tmp_path, monkeypatch, "2026-01-01", n=20)
    opts = {"endpoint_url": s3_server.endpoint}
    first = sync(storage_options=opts, progress=False)
    assert not first.reused_iblatlas and RAW in first.downloaded  # nothing to compare with
    own = location.cache_dir()
    # its ETag cannot be checked: recorded as such, not as "size" (issue 10, case 11)
    assert read_manifest()["files"][str(own / RAW)]["verified"] == "unverified"
    assert first.unverified == [RAW]
    (own / RAW).unlink()  # space freed: the recorded sha256 of the object remains
    second = sync(storage_options=opts, progress=False)
    assert second.reused_iblatlas and second.downloaded == []
    assert read_manifest()["files"][str(ibl / RAW)]["verified"] == "recorded sha256"
    # a copy that differs from the recorded hash is not used
    flip_one_byte(ibl / RAW, 17)
    third = sync(storage_options=opts, progress=False)
    assert not third.reused_iblatlas and third.downloaded == [RAW]


def test_an_iblatlas_copy_of_the_pinned_release_must_match_the_pins(
    s3_server, official, tmp_path, monkeypatch
):
    # the bucket's and iblatlas' files are identical (same ETag) but not the published
    # release: for the pinned version the pins are the identity, so neither is taken
    official("2025-03-18")
    ibl = iblatlas(tmp_path, monkeypatch, "2025-03-18")
    with pytest.raises(ChecksumError, match="expected sha256"):
        sync(storage_options={"endpoint_url": s3_server.endpoint}, progress=False)
    assert str(ibl / RAW) not in read_manifest()["files"]
