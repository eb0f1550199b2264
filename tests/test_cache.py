"""The verified local cache: download, resume, verification, lock, iblatlas reuse, CLI."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import agea_xr
from agea_xr import layout
from agea_xr.cli import main
from agea_xr.fetch import ChecksumError, cache, cached_source, read_manifest, sync, transfer
from agea_xr.testing import write_synthetic

pytest_plugins = ["tests.s3server"]

N = 12
RAW = layout.VARIANTS["raw"]
PROCESSED = layout.VARIANTS["processed"]
SMALL = (layout.TABLE_FILE, layout.LABEL_FILE, layout.IMAGE_FILE)
_prefixes = itertools.count()


def unique_prefix(stem: str = "release") -> str:
    """A prefix (or folder name) no other test uses."""
    return f"{stem}-{next(_prefixes)}"


@pytest.fixture(autouse=True)
def _dummy_credentials(aws_env):
    """Every test here runs with dummy AWS credentials (never a real profile)."""


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def release(s3_server, tmp_path):
    """Upload a fresh synthetic release under a new prefix: ``make(**kw) -> (url, folder)``."""

    def make(n=N, *, variants=("raw", "processed"), version="2025-03-18", part_size=None):
        folder = write_synthetic(
            tmp_path / unique_prefix("src"), n, variants=variants, version=version
        )
        url = s3_server.upload("agea-test", unique_prefix(), folder, part_size=part_size)
        return url, folder

    return make


@pytest.fixture
def official(s3_server, tmp_path):
    """The official bucket name on the local server: ``make(version) -> folder``."""
    bucket, prefix = "ibl-brain-wide-map-public", "atlas/agea"

    def make(version, n=N, part_size=None):
        s3_server.delete_prefix(bucket, prefix)
        folder = write_synthetic(tmp_path / f"official-{version}-{n}", n, version=version)
        s3_server.upload(bucket, prefix, folder, part_size=part_size)
        return folder

    yield make
    s3_server.delete_prefix(bucket, prefix)


def options(s3_server) -> dict:
    return {"anon": True, "endpoint_url": s3_server.endpoint}


# --- download ------------------------------------------------------------------------
def test_download_fetches_only_the_variant_verified_and_recorded(s3_server, release, tmp_path):
    url, src = release()
    target = tmp_path / "cache"
    folder = agea_xr.download(
        url, cache_dir=target, storage_options=options(s3_server), progress=False
    )
    assert folder == target
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        [*SMALL, RAW, "2025-03-18.version", cache.MANIFEST_FILE, ".agea-xr.lock"]
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


def test_progress_bar_shows_bytes_rate_and_eta(s3_server, release, tmp_path, capsys):
    url, _ = release()
    agea_xr.download(url, cache_dir=tmp_path / "c", storage_options=options(s3_server))
    err = capsys.readouterr().err
    assert RAW in err and "3.65M/3.65M" in err  # 12 x 318,652 bytes, binary units
    assert "B/s" in err and "<00:00" in err


def test_multipart_etag_is_verified(s3_server, release, tmp_path):
    url, src = release(20, variants=("raw",), part_size=5 * 2**20)  # 6.4 MB: two parts
    folder = agea_xr.download(
        url, cache_dir=tmp_path / "c", storage_options=options(s3_server), progress=False
    )
    entry = read_manifest(folder)["files"][str(folder / RAW)]
    assert entry["etag"].endswith("-2")
    assert entry["verified"] == "etag md5"
    assert (folder / RAW).read_bytes() == (src / RAW).read_bytes()


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


# --- faults -------------------------------------------------------------------------
def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if transfer.PART_SUFFIX in p.name)


def test_truncated_object_is_a_size_error(s3_server, release, tmp_path):
    url, src = release(variants=("raw",))
    s3_server.put(f"{url}/{RAW}", (src / RAW).read_bytes()[:-1000])
    target = tmp_path / "c"
    with pytest.raises(ValueError, match=r"3,822,824 bytes on the server, expected 3,823,824"):
        agea_xr.download(url, cache_dir=target, storage_options=options(s3_server), progress=False)
    assert not (target / RAW).exists() and _leftovers(target) == []
    with pytest.raises(FileNotFoundError):
        cached_source("raw", target)


def test_bytes_corrupted_in_transfer_are_caught_and_removed(s3_server, release, tmp_path):
    url, src = release(variants=("raw",))
    proxy = s3_server.proxy()
    opts = {"anon": True, "endpoint_url": proxy.endpoint}
    target = tmp_path / "c"
    proxy.corrupt_next(min_chunk=32 * 1024)  # label.npy (318 kB) is the first large file
    # a whole-object GET: botocore checks the server's CRC32 of the body
    with pytest.raises(ChecksumError, match=r"label\.npy' failed verification: the server's"):
        agea_xr.download(url, cache_dir=target, storage_options=opts, progress=False)
    assert proxy.corrupted == 1
    assert not (target / layout.LABEL_FILE).exists() and _leftovers(target) == []
    folder = agea_xr.download(url, cache_dir=target, storage_options=opts, progress=False)
    assert (folder / layout.LABEL_FILE).read_bytes() == (src / layout.LABEL_FILE).read_bytes()


def test_corruption_across_range_requests_is_caught_by_the_etag(
    s3_server, release, tmp_path, monkeypatch
):
    monkeypatch.setattr(transfer, "BLOCK_SIZE", 256 * 1024)  # the binary in 15 ranges
    url, src = release(variants=("raw",))
    proxy = s3_server.proxy()
    opts = {"anon": True, "endpoint_url": proxy.endpoint}
    target = tmp_path / "c"
    agea_xr.download(url, cache_dir=target, storage_options=opts, progress=False)
    new = np.fromfile(src / RAW, dtype="<f2")[::-1].copy()  # same size, new content
    s3_server.put(f"{url}/{RAW}", new.tobytes())
    proxy.corrupt_next(min_chunk=32 * 1024)
    with pytest.raises(ChecksumError, match=r"the server's ETag is MD5 [0-9a-f]{32}, the recei"):
        agea_xr.download(url, cache_dir=target, storage_options=opts, progress=False)
    assert proxy.corrupted == 1
    assert _leftovers(target) == []  # the corrupted download is gone
    assert (target / RAW).read_bytes() == (src / RAW).read_bytes()  # the old file is intact
    agea_xr.download(url, cache_dir=target, storage_options=opts, progress=False)
    assert (target / RAW).read_bytes() == new.tobytes()


def test_pinned_hashes_apply_to_the_official_release(s3_server, official, tmp_path):
    official("2025-03-18")  # synthetic files under the official name and pinned version
    target = tmp_path / "c"
    pin = layout.PINNED[layout.TABLE_FILE][1]
    with pytest.raises(ChecksumError, match=f"expected sha256 {pin}, got [0-9a-f]{{64}}"):
        agea_xr.download(storage_options={"endpoint_url": s3_server.endpoint}, cache_dir=target)
    assert not (target / layout.TABLE_FILE).exists() and _leftovers(target) == []


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


def test_server_stopped_mid_download_then_resumed(s3_server, release, tmp_path, monkeypatch):
    monkeypatch.setattr(transfer, "BLOCK_SIZE", 256 * 1024)
    monkeypatch.setattr(transfer, "PARALLEL", 1)
    url, src = release(variants=("raw",))
    proxy = s3_server.proxy()
    opts = {"anon": True, "endpoint_url": proxy.endpoint}
    target = tmp_path / "c"
    small = sum((src / n).stat().st_size for n in SMALL)
    proxy.cut_after(small + 1_500_000)  # the server goes away 1.5 MB into the binary
    with pytest.raises(ConnectionError, match="run the download again to resume"):
        agea_xr.download(url, cache_dir=target, storage_options=opts, progress=False)
    part = target / (RAW + transfer.PART_SUFFIX)
    kept = part.stat().st_size
    full = (src / RAW).stat().st_size
    assert 0 < kept < full and kept % transfer.BLOCK_SIZE == 0
    assert not (target / RAW).exists()  # a partial file is never taken for a good one
    with pytest.raises(FileNotFoundError):
        cached_source("raw", target)

    proxy.start()  # the server is back
    before = proxy.downstream
    folder = agea_xr.download(url, cache_dir=target, storage_options=opts, progress=False)
    moved = proxy.downstream - before
    assert moved < full - kept + 64 * 1024  # only the rest was transferred
    assert (folder / RAW).read_bytes() == (src / RAW).read_bytes()
    assert _leftovers(folder) == []
    assert read_manifest(folder)["files"][str(folder / RAW)]["verified"] == "etag md5"


def test_a_partial_file_of_another_object_is_not_resumed(s3_server, release, tmp_path):
    url, src = release(variants=("raw",))
    target = tmp_path / "c"
    target.mkdir()
    (target / (RAW + transfer.PART_SUFFIX)).write_bytes(b"\0" * 1000)
    (target / (RAW + transfer.PART_SUFFIX + ".json")).write_text(json.dumps({"url": "other"}))
    folder = agea_xr.download(
        url, cache_dir=target, storage_options=options(s3_server), progress=False
    )
    assert (folder / RAW).read_bytes() == (src / RAW).read_bytes()


def test_two_processes_downloading_into_one_cache(s3_server, release, tmp_path):
    url, src = release(variants=("raw",))
    proxy = s3_server.proxy()
    target = tmp_path / "shared-cache"
    code = (
        "import sys, agea_xr; print(agea_xr.download(sys.argv[1], cache_dir=sys.argv[2], "
        "storage_options={'anon': True, 'endpoint_url': sys.argv[3]}, progress=False))"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, url, str(target), proxy.endpoint],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert [o[0].strip() for o in outs] == [str(target)] * 2
    assert (target / RAW).read_bytes() == (src / RAW).read_bytes()
    assert _leftovers(target) == []
    release_bytes = sum((src / n).stat().st_size for n in (*SMALL, RAW))
    assert proxy.downstream < 1.5 * release_bytes  # the second one reused, not re-fetched
    assert read_manifest(target)["files"][str(target / RAW)]["sha256"] == sha256(src / RAW)


# --- open_dataset() without a source ----------------------------------------------
def test_open_dataset_downloads_first_when_the_cache_is_empty(
    s3_server, official, monkeypatch, tmp_path
):
    src = official("2026-01-01")  # a version without sha256 pins
    monkeypatch.delenv(cache.OFFLINE_ENV)
    ds = agea_xr.open_dataset(storage_options={"endpoint_url": s3_server.endpoint}, chunks=None)
    folder = cache.cache_dir()
    assert ds.attrs["source"] == str(folder) and ds.attrs["data_version"] == "2026-01-01"
    np.testing.assert_array_equal(
        ds.expression.values, agea_xr.open_dataset(src, chunks=None).expression.values
    )
    entry = read_manifest()["files"][str(folder / RAW)]
    assert entry["source"] == layout.BUCKET_URL and entry["verified"] == "etag md5"
    monkeypatch.setenv(cache.OFFLINE_ENV, "1")  # now offline: the cache alone suffices
    assert agea_xr.open_dataset().sizes["experiment"] == N


def test_offline_and_empty_says_how_to_download():
    with pytest.raises(FileNotFoundError, match=r"agea_xr\.download\(variant='processed'\)"):
        agea_xr.open_dataset(variant="processed")


def test_a_copy_placed_in_the_cache_folder_is_adopted(tmp_path):
    folder = cache.cache_dir()
    write_synthetic(folder, 4, version="2026-01-01")
    assert agea_xr.open_dataset().sizes["experiment"] == 4
    entry = read_manifest()["files"][str(folder / RAW)]
    assert entry["source"] == cache.LOCAL_COPY and entry["verified"] == "size"
    assert entry["sha256"] == sha256(folder / RAW)


def test_a_wrong_size_binary_in_the_cache_is_not_used(tmp_path):
    folder = cache.cache_dir()
    write_synthetic(folder, 4, version="2026-01-01")
    with open(folder / RAW, "ab") as f:
        f.write(b"\0\0")
    with pytest.raises(FileNotFoundError, match="does not hold the raw"):
        agea_xr.open_dataset()


# --- iblatlas' cache ----------------------------------------------------------------
def _one_config(home, root) -> None:
    (home / ".one").mkdir(parents=True)
    key = "openalyx.internationalbrainlab.org"
    (home / ".one" / ".caches").write_text(
        json.dumps({"CLIENT_MAP": {key: str(root)}, "DEFAULT": key})
    )


def _snapshot(folder) -> dict:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_iblatlas_cache_is_reused_read_only(tmp_path, monkeypatch):
    home = tmp_path / "home"
    root = tmp_path / "ONE" / "openalyx.internationalbrainlab.org"
    ibl = write_synthetic(root.joinpath(*layout.IBLATLAS_CACHE_SUBDIR), N, version="2026-01-01")
    _one_config(home, root)
    monkeypatch.setenv("HOME", str(home))
    before = _snapshot(ibl)
    assert cache.iblatlas_cache() == ibl
    ds = agea_xr.open_dataset(chunks=None)
    assert ds.attrs["source"] == str(ibl)
    np.testing.assert_array_equal(ds.expression[3].values, agea_xr.open_dataset(ibl).expression[3])
    assert _snapshot(ibl) == before  # nothing written there
    entry = read_manifest()["files"][str(ibl / RAW)]
    assert entry["source"] == layout.BUCKET_URL and entry["sha256"] == sha256(ibl / RAW)
    assert not (cache.cache_dir() / RAW).exists()  # no second copy


def test_iblatlas_copy_failing_the_pins_is_not_used(tmp_path, monkeypatch):
    home = tmp_path / "home"
    root = tmp_path / "ONE"
    ibl = write_synthetic(root.joinpath(*layout.IBLATLAS_CACHE_SUBDIR), 4, version="2025-03-18")
    _one_config(home, root)
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
    assert cache.iblatlas_cache() is None
    with pytest.raises(FileNotFoundError):
        agea_xr.open_dataset()
    assert list(home.iterdir()) == []  # no ~/.one, no ~/Downloads/ONE


def count_hashing(monkeypatch) -> list[str]:
    """Record the name of every file that the cache hashes (``transfer.digest_file``)."""
    names: list[str] = []
    original = transfer.digest_file

    def digest_file(path, *args, **kwargs):
        names.append(os.path.basename(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(transfer, "digest_file", digest_file)
    return names


def _iblatlas(tmp_path, monkeypatch, version, n=N):
    home = tmp_path / "home"
    root = tmp_path / "ONE"
    ibl = write_synthetic(root.joinpath(*layout.IBLATLAS_CACHE_SUBDIR), n, version=version)
    _one_config(home, root)
    monkeypatch.setenv("HOME", str(home))
    return ibl


def _flip_one_byte(path, offset) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x01]))


def test_download_uses_a_current_iblatlas_copy(s3_server, official, tmp_path, monkeypatch):
    official("2026-01-01")
    ibl = _iblatlas(tmp_path, monkeypatch, "2026-01-01")
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
    ibl = _iblatlas(tmp_path, monkeypatch, marker)
    _flip_one_byte(ibl / RAW, 3 * layout.VOLUME_BYTES + 101)
    report = sync(storage_options={"endpoint_url": s3_server.endpoint}, progress=False)
    assert not report.reused_iblatlas and report.folder == cache.cache_dir()
    assert sorted(report.downloaded) == sorted([*SMALL, RAW])
    assert str(ibl / RAW) not in read_manifest()["files"]
    assert agea_xr.open_dataset().attrs["source"] == str(cache.cache_dir())


def test_an_iblatlas_copy_with_an_old_marker_but_the_current_content_is_used(
    s3_server, official, tmp_path, monkeypatch
):
    official("2026-01-01")
    ibl = _iblatlas(tmp_path, monkeypatch, "2024-01-21")
    report = sync(storage_options={"endpoint_url": s3_server.endpoint}, progress=False)
    assert report.reused_iblatlas and report.downloaded == []
    assert read_manifest()["files"][str(ibl / RAW)]["version"] == "2026-01-01"


def test_an_iblatlas_copy_adopted_offline_is_checked_against_the_bucket_without_rehashing(
    s3_server, official, tmp_path, monkeypatch
):
    official("2026-01-01")
    ibl = _iblatlas(tmp_path, monkeypatch, "2026-01-01")
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
    ibl = _iblatlas(tmp_path, monkeypatch, "2026-01-01", n=20)
    report = sync(storage_options={"endpoint_url": s3_server.endpoint}, progress=False)
    assert report.reused_iblatlas and report.downloaded == []
    entry = read_manifest()["files"][str(ibl / RAW)]
    assert entry["etag"].endswith("-2") and entry["verified"] == "etag md5"


def test_an_unverifiable_iblatlas_binary_is_used_only_against_recorded_hashes(
    s3_server, official, tmp_path, monkeypatch
):
    # parts of 5 MiB + 12,345 bytes: no whole-MiB part size gives the ETag
    official("2026-01-01", n=20, part_size=5 * 2**20 + 12_345)
    ibl = _iblatlas(tmp_path, monkeypatch, "2026-01-01", n=20)
    opts = {"endpoint_url": s3_server.endpoint}
    first = sync(storage_options=opts, progress=False)
    assert not first.reused_iblatlas and RAW in first.downloaded  # nothing to compare with
    own = cache.cache_dir()
    assert read_manifest()["files"][str(own / RAW)]["verified"] == "size"
    (own / RAW).unlink()  # space freed: the recorded sha256 of the object remains
    second = sync(storage_options=opts, progress=False)
    assert second.reused_iblatlas and second.downloaded == []
    assert read_manifest()["files"][str(ibl / RAW)]["verified"] == "recorded sha256"
    # a copy that differs from the recorded hash is not used
    _flip_one_byte(ibl / RAW, 17)
    third = sync(storage_options=opts, progress=False)
    assert not third.reused_iblatlas and third.downloaded == [RAW]


def test_an_iblatlas_copy_of_the_pinned_release_must_match_the_pins(
    s3_server, official, tmp_path, monkeypatch
):
    # the bucket's and iblatlas' files are identical (same ETag) but not the published
    # release: for the pinned version the pins are the identity, so neither is taken
    official("2025-03-18")
    ibl = _iblatlas(tmp_path, monkeypatch, "2025-03-18")
    with pytest.raises(ChecksumError, match="expected sha256"):
        sync(storage_options={"endpoint_url": s3_server.endpoint}, progress=False)
    assert str(ibl / RAW) not in read_manifest()["files"]


# --- the command line ------------------------------------------------------------------
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


@pytest.fixture
def no_network(monkeypatch):
    """Downloads allowed, but any connection attempt fails the test (it must not happen)."""
    import socket

    monkeypatch.delenv(cache.OFFLINE_ENV)
    attempts = []

    def connect(sock, address):
        attempts.append(address)
        raise RuntimeError(f"network used: connect to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    monkeypatch.setattr(
        socket, "create_connection", lambda address, *a, **k: connect(None, address)
    )
    return attempts


def test_cli_info_without_path_and_an_empty_cache_says_how_to_download(no_network, capsys):
    assert main(["info"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("agea-xr info: error: The local cache")
    assert "`agea-xr download --variant raw`" in err and "Traceback" not in err
    assert main(["info", "--variant", "processed"]) == 1
    assert "`agea-xr download --variant processed`" in capsys.readouterr().err
    assert no_network == []  # no download was tried
    assert not cache.cache_dir().exists()  # nothing created


def test_cli_info_without_path_describes_the_cache(no_network, tmp_path, capsys, monkeypatch):
    folder = agea_xr.download(agea_xr.sample_path(), cache_dir=cache.cache_dir(), progress=False)
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"AGEA dataset: {folder}\n")
    assert "experiments: 2   genes: 2" in out and "variant: raw" in out
    assert f"{RAW} ({2 * layout.VOLUME_BYTES:,} B)" in out
    # a copy placed in another cache folder: verified once, then described
    other = write_synthetic(tmp_path / "copy", 4, version="2026-01-01")
    assert main(["info"]) == 0  # still the first cache
    assert "experiments: 2" in capsys.readouterr().out
    monkeypatch.setenv(cache.CACHE_ENV, str(other))
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"AGEA dataset: {other}" in out and "experiments: 4" in out
    assert "data version: 2026-01-01" in out
    assert read_manifest(other)["files"][str(other / RAW)]["source"] == cache.LOCAL_COPY
    assert no_network == []


def test_cli_download_unreachable_is_a_clean_error(tmp_path, capsys):
    args = ["download", "--source", "s3://agea-test/agea", "--endpoint-url"]
    args += ["http://127.0.0.1:9", "--anon", "--cache-dir", str(tmp_path / "c"), "--no-progress"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("agea-xr download: error: Cannot reach 's3://agea-test/agea'")
