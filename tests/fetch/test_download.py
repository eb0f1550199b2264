"""Downloading into the cache: what is fetched, when it is current, checks, the CLI."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

import agea_xr
from agea_xr import layout
from agea_xr.cli import main
from agea_xr.fetch import ChecksumError, cached_source, location, read_manifest, sync
from agea_xr.testing import write_synthetic

from .helpers import PROCESSED, RAW, SMALL, N, leftovers, options, sha256

pytest_plugins = ["tests.s3server"]


def test_download_fetches_only_the_variant_verified_and_recorded(s3_server, release, tmp_path):
    url, src = release()
    target = tmp_path / "cache"
    folder = agea_xr.download(
        url, cache_dir=target, storage_options=options(s3_server), progress=False
    )
    assert folder == target
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        [*SMALL, RAW, "2025-03-18.version", location.MANIFEST_FILE, ".agea-xr.lock"]
    )
    for name in (*SMALL, RAW):
        assert (folder / name).read_bytes() == (src / name).read_bytes()
    entries = read_manifest(folder)["files"]
    entry = entries[str(folder / RAW)]
    assert entry["size"] == N * layout.VOLUME_BYTES
    assert entry["sha256"] == sha256(src / RAW)
    assert entry["verified"] == "etag md5"  # not the official bucket: no sha256 pin
    assert entry["version"] == "2025-03-18" and entry["source"] == url
    assert entry["etag"] == hashlib.md5((src / RAW).read_bytes()).hexdigest()
    ds = agea_xr.open_dataset(folder)
    np.testing.assert_array_equal(
        ds.expression.values, agea_xr.open_dataset(src).expression.values
    )
    assert ds.attrs["data_version"] == "2025-03-18"


def test_processed_variant_downloads_only_the_processed_binary(s3_server, release, tmp_path):
    url, src = release()
    folder = agea_xr.download(
        url,
        variant="processed",
        cache_dir=tmp_path / "c",
        storage_options=options(s3_server),
        progress=False,
    )
    assert (folder / PROCESSED).read_bytes() == (src / PROCESSED).read_bytes()
    assert not (folder / RAW).exists()
    assert cached_source("processed", folder) == folder
    with pytest.raises(FileNotFoundError, match="does not hold the raw AGEA release"):
        cached_source("raw", folder)


def test_second_download_is_current_and_moves_no_data(s3_server, release, tmp_path):
    url, _ = release()
    proxy = s3_server.proxy()
    opts = {"anon": True, "endpoint_url": proxy.endpoint}
    first = sync(url, cache_dir=tmp_path / "c", storage_options=opts, progress=False)
    assert sorted(first.downloaded) == sorted([*SMALL, RAW]) and not first.was_current
    before = proxy.downstream
    second = sync(url, cache_dir=tmp_path / "c", storage_options=opts, progress=False)
    assert second.was_current and sorted(second.current) == sorted([*SMALL, RAW])
    assert proxy.downstream - before < 16 * 1024  # one listing, no file


def test_a_changed_file_on_the_server_is_fetched_again(s3_server, release, tmp_path):
    url, src = release(version="2026-01-01")
    cache_folder = tmp_path / "c"
    sync(url, cache_dir=cache_folder, storage_options=options(s3_server), progress=False)
    image = np.load(src / layout.IMAGE_FILE)
    new = src / "new-image.npy"
    np.save(new, image + 1)
    s3_server.put(f"{url}/{layout.IMAGE_FILE}", new.read_bytes())
    s3_server.put(f"{url}/2026-02-01.version", b"")
    report = sync(url, cache_dir=cache_folder, storage_options=options(s3_server), progress=False)
    assert report.version == "2026-02-01"
    np.testing.assert_array_equal(np.load(cache_folder / layout.IMAGE_FILE), image + 1)
    assert (cache_folder / "2026-02-01.version").exists()
    assert not (cache_folder / "2026-01-01.version").exists()


def test_missing_variant_at_the_source(s3_server, release, tmp_path):
    url, _ = release(variants=("raw",))
    with pytest.raises(FileNotFoundError, match=r"holds no processed binary"):
        agea_xr.download(
            url,
            variant="processed",
            cache_dir=tmp_path / "c",
            storage_options=options(s3_server),
            progress=False,
        )
    with pytest.raises(ValueError, match="Unknown variant 'imputed'"):
        agea_xr.download(url, variant="imputed", cache_dir=tmp_path / "c")


def test_pinned_hashes_apply_to_the_official_release(s3_server, official, tmp_path):
    official("2025-03-18")  # synthetic files under the official name and pinned version
    target = tmp_path / "c"
    pin = layout.PINNED[layout.TABLE_FILE][1]
    with pytest.raises(ChecksumError, match=f"expected sha256 {pin}, got [0-9a-f]{{64}}"):
        agea_xr.download(storage_options={"endpoint_url": s3_server.endpoint}, cache_dir=target)
    assert not (target / layout.TABLE_FILE).exists() and leftovers(target) == []


def test_corruption_in_the_cache_is_caught_by_check(s3_server, release, tmp_path):
    url, src = release(variants=("raw",))
    target = tmp_path / "c"
    opts = options(s3_server)
    agea_xr.download(url, cache_dir=target, storage_options=opts, progress=False)
    with open(target / RAW, "r+b") as f:  # same size, one byte changed
        f.seek(5 * layout.VOLUME_BYTES + 17)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0x01]))
    assert sync(url, cache_dir=target, storage_options=opts, progress=False).was_current
    report = sync(url, cache_dir=target, storage_options=opts, progress=False, check=True)
    assert report.removed == [RAW]
    assert sorted(report.checked) == sorted([*SMALL, RAW])
    assert report.downloaded == [RAW]
    assert (target / RAW).read_bytes() == (src / RAW).read_bytes()


def test_check_offline_removes_the_bad_file_then_says_unreachable(s3_server, release, tmp_path):
    url, _ = release(variants=("raw",))
    target = tmp_path / "c"
    agea_xr.download(url, cache_dir=target, storage_options=options(s3_server), progress=False)
    (target / layout.IMAGE_FILE).write_bytes(b"x" * (target / layout.IMAGE_FILE).stat().st_size)
    gone = {"anon": True, "endpoint_url": "http://127.0.0.1:9"}
    with pytest.raises(ConnectionError, match="Cannot reach"):
        agea_xr.download(url, cache_dir=target, storage_options=gone, progress=False, check=True)
    assert not (target / layout.IMAGE_FILE).exists()
    assert str(target / layout.IMAGE_FILE) not in read_manifest(target)["files"]


def test_open_dataset_downloads_first_when_the_cache_is_empty(
    s3_server, official, monkeypatch, tmp_path
):
    src = official("2026-01-01")  # a version without sha256 pins
    monkeypatch.delenv(location.OFFLINE_ENV)
    ds = agea_xr.open_dataset(storage_options={"endpoint_url": s3_server.endpoint}, chunks=None)
    folder = location.cache_dir()
    assert ds.attrs["source"] == str(folder) and ds.attrs["data_version"] == "2026-01-01"
    np.testing.assert_array_equal(
        ds.expression.values, agea_xr.open_dataset(src, chunks=None).expression.values
    )
    entry = read_manifest()["files"][str(folder / RAW)]
    assert entry["source"] == layout.BUCKET_URL and entry["verified"] == "etag md5"
    monkeypatch.setenv(location.OFFLINE_ENV, "1")  # now offline: the cache alone suffices
    assert agea_xr.open_dataset().sizes["experiment"] == N


def test_offline_and_empty_says_how_to_download():
    with pytest.raises(FileNotFoundError, match=r"agea_xr\.download\(variant='processed'\)"):
        agea_xr.open_dataset(variant="processed")


def test_cli_download_reports_current_and_checks(s3_server, release, tmp_path, capsys):
    url, _ = release(variants=("raw",))
    args = ["download", "--source", url, "--endpoint-url", s3_server.endpoint, "--anon"]
    args += ["--cache-dir", str(tmp_path / "c"), "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "downloaded: gene-expression.pqt" in out and "cache updated" in out
    assert main(args) == 0
    assert "raw release 2025-03-18" in (out := capsys.readouterr().out) and "cache current" in out
    assert main([*args, "--check"]) == 0
    out = capsys.readouterr().out
    assert "checked (sha256): " in out and RAW in out and "cache current" in out


def test_cli_info_without_path_and_an_empty_cache_says_how_to_download(no_network, capsys):
    assert main(["info"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("agea-xr info: error: The local cache")
    assert "`agea-xr download --variant raw`" in err and "Traceback" not in err
    assert main(["info", "--variant", "processed"]) == 1
    assert "`agea-xr download --variant processed`" in capsys.readouterr().err
    assert no_network == []  # no download was tried
    assert not location.cache_dir().exists()  # nothing created


def test_cli_info_without_path_describes_the_cache(no_network, tmp_path, capsys, monkeypatch):
    folder = agea_xr.download(
        agea_xr.sample_path(), cache_dir=location.cache_dir(), progress=False
    )
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"AGEA dataset: {folder}\n")
    assert "experiments: 2   genes: 2" in out and "variant: raw" in out
    assert f"{RAW} ({2 * layout.VOLUME_BYTES:,} B)" in out
    # a copy placed in another cache folder: verified once, then described
    other = write_synthetic(tmp_path / "copy", 4, version="2026-01-01")
    assert main(["info"]) == 0  # still the first cache
    assert "experiments: 2" in capsys.readouterr().out
    monkeypatch.setenv(location.CACHE_ENV, str(other))
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"AGEA dataset: {other}" in out and "experiments: 4" in out
    assert "data version: 2026-01-01" in out
    assert read_manifest(other)["files"][str(other / RAW)]["source"] == location.LOCAL_COPY
    assert no_network == []


def test_cli_download_unreachable_is_a_clean_error(tmp_path, capsys):
    args = ["download", "--source", "s3://agea-test/agea", "--endpoint-url"]
    args += ["http://127.0.0.1:9", "--anon", "--cache-dir", str(tmp_path / "c"), "--no-progress"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("agea-xr download: error: Cannot reach 's3://agea-test/agea'")


# --- check=True without the network (issue 10, case 19) ------------------------------
def _forbid_network(monkeypatch) -> list:
    """From now on any connection attempt is recorded and fails."""
    import socket

    attempts: list = []

    def connect(sock, address):
        attempts.append(address)
        raise RuntimeError(f"network used: connect to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    monkeypatch.setattr(
        socket, "create_connection", lambda address, *a, **k: connect(None, address)
    )
    return attempts


def test_check_offline_rehashes_without_the_network(s3_server, release, tmp_path, monkeypatch):
    url, src = release(variants=("raw",))
    target = tmp_path / "c"
    agea_xr.download(url, cache_dir=target, storage_options=options(s3_server), progress=False)
    attempts = _forbid_network(monkeypatch)
    good = sync(url, cache_dir=target, progress=False, check=True, offline=True)
    assert sorted(good.checked) == sorted([*SMALL, RAW])
    assert good.removed == [] and good.missing == [] and good.unverified == []
    assert sorted(good.current) == sorted([*SMALL, RAW]) and good.was_current
    assert good.offline and good.folder == target and good.version == "2025-03-18"
    (target / layout.IMAGE_FILE).write_bytes(b"x" * (src / layout.IMAGE_FILE).stat().st_size)
    bad = sync(url, cache_dir=target, progress=False, check=True, offline=True)
    assert bad.removed == [layout.IMAGE_FILE] and bad.missing == [layout.IMAGE_FILE]
    assert not bad.was_current and bad.downloaded == []
    assert not (target / layout.IMAGE_FILE).exists()
    assert "failed verification, removed: image.npy" in bad.summary()
    assert agea_xr.download(url, cache_dir=target, check=True, offline=True) == target
    assert attempts == []  # no connection was even tried


def test_check_with_the_bucket_unreachable_says_what_the_check_found(s3_server, release, tmp_path):
    url, src = release(variants=("raw",))
    target = tmp_path / "c"
    agea_xr.download(url, cache_dir=target, storage_options=options(s3_server), progress=False)
    (target / RAW).write_bytes(b"\0" * (src / RAW).stat().st_size)
    gone = {"anon": True, "endpoint_url": "http://127.0.0.1:9"}
    with pytest.raises(ConnectionError, match=f"Cannot reach {url!r}") as info:
        sync(url, cache_dir=target, storage_options=gone, progress=False, check=True)
    message = str(info.value)
    assert "The local check ran first: checked (sha256): " in message
    assert f"failed verification, removed: {RAW}." in message
    assert "offline=True" in message
