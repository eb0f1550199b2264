"""The per-file decisions, without any I/O: current or download, same content or not."""

from __future__ import annotations

from pathlib import Path

from agea_xr import layout
from agea_xr.fetch import plan
from agea_xr.remote import RemoteFile

from .helpers import RAW

pytest_plugins = ["tests.s3server"]

URL = "s3://mirror/agea"
MD5 = "0123456789abcdef" * 2
REMOTE = RemoteFile(RAW, f"mirror/agea/{RAW}", 100, MD5)
ENTRY = {"name": RAW, "size": 100, "etag": MD5, "source": URL, "version": "2026-01-01"}


def test_download_action_current_only_for_the_same_object_unchanged():
    assert plan.download_action(ENTRY, (100, 1), REMOTE, URL, "2026-01-01") == "current"
    assert plan.download_action(ENTRY, None, REMOTE, URL, "2026-01-01") == "download"
    assert plan.download_action(ENTRY, (99, 1), REMOTE, URL, "2026-01-01") == "download"
    assert plan.download_action(None, (100, 1), REMOTE, URL, "2026-01-01") == "download"
    assert plan.download_action(ENTRY, (100, 1), REMOTE, URL, "2026-02-01") == "download"
    other = RemoteFile(RAW, REMOTE.path, 100, "f" * 32)
    assert plan.download_action(ENTRY, (100, 1), other, URL, "2026-01-01") == "download"
    assert plan.download_action(ENTRY, (100, 1), REMOTE, "s3://x", "2026-01-01") == "download"


def test_files_outside_the_cache_must_keep_their_mtime():
    entry = {**ENTRY, "mtime_ns": 7}
    assert plan.entry_matches(entry, (100, 7), ours=False)
    assert not plan.entry_matches(entry, (100, 8), ours=False)
    assert plan.entry_matches(entry, (100, 8), ours=True)


def test_complete_folder_needs_one_consistent_unchanged_release():
    own, ibl = Path("/cache"), Path("/ibl")
    files = {
        str(own / layout.TABLE_FILE): {**ENTRY, "name": layout.TABLE_FILE},
        str(own / RAW): ENTRY,
        str(ibl / layout.TABLE_FILE): {**ENTRY, "mtime_ns": 1},
        str(ibl / RAW): {**ENTRY, "mtime_ns": 1},
    }
    stats = {own / layout.TABLE_FILE: (100, 5), own / RAW: (100, 5)}
    stats |= {ibl / layout.TABLE_FILE: (100, 1), ibl / RAW: (100, 1)}
    manifest = {"files": files}
    assert plan.complete_folder(manifest, "raw", own, stats.get) == own  # own first
    stats[own / RAW] = (99, 5)
    assert plan.complete_folder(manifest, "raw", own, stats.get) == ibl
    stats[ibl / RAW] = (100, 2)  # iblatlas' copy changed since it was verified
    assert plan.complete_folder(manifest, "raw", own, stats.get) is None
    assert plan.complete_folder(manifest, "processed", own, stats.get) is None
    stats[own / RAW] = (100, 5)
    files[str(own / RAW)] = {**ENTRY, "version": "2024-01-01"}  # not one release
    assert plan.complete_folder(manifest, "raw", own, stats.get) is None


def test_same_content_never_takes_an_undecided_check_for_a_pass():
    empty = {"files": {}}
    here = Path("/ibl") / RAW
    multipart = RemoteFile(RAW, REMOTE.path, 100, MD5 + "-3")
    for known in ({"etag_match": None}, {"md5": MD5}, {}):
        assert plan.same_content(RAW, known, multipart, URL, False, empty, here) is None
    earlier = {"etag": multipart.etag, "source": URL, "verified": plan.UNVERIFIED}
    assert plan.same_content(RAW, earlier, multipart, URL, False, empty, here) is None
    checked = {**earlier, "verified": "etag md5"}
    assert plan.same_content(RAW, checked, multipart, URL, False, empty, here) == "etag md5"
    assert plan.same_content(RAW, {"etag_match": False}, multipart, URL, False, empty, here) is (
        False
    )
    assert plan.same_content(RAW, {"md5": MD5}, REMOTE, URL, False, empty, here) == "etag md5"
    assert plan.same_content(RAW, {"md5": "1" * 32}, REMOTE, URL, False, empty, here) is False


def test_same_content_uses_a_recorded_sha256_and_the_pins():
    own = Path("/cache") / RAW
    manifest = {"files": {str(own): {**ENTRY, "sha256": "ab"}}}
    here = Path("/ibl") / RAW
    known = {"sha256": "ab", "md5": "9" * 32}
    assert plan.same_content(RAW, known, REMOTE, URL, False, manifest, here) == "recorded sha256"
    assert plan.same_content(RAW, {"sha256": "cd"}, REMOTE, URL, False, manifest, here) is False
    assert plan.same_content(RAW, known, REMOTE, URL, False, manifest, own) is False  # md5
    pin = layout.PINNED[layout.TABLE_FILE][1]
    table = RemoteFile(layout.TABLE_FILE, "t", 1, MD5)
    got = plan.same_content(layout.TABLE_FILE, {"sha256": pin}, table, URL, True, manifest, here)
    assert got == "sha256 pin"
    unpinned = plan.same_content(layout.TABLE_FILE, {"md5": MD5}, table, URL, True, manifest, here)
    assert unpinned is False  # the pins are the identity of the pinned release, not the ETag


def test_expected_sha256_adds_the_pin_for_the_official_pinned_release():
    entry = {"sha256": "ab", "source": layout.BUCKET_URL, "version": layout.PINNED_VERSION}
    pin = layout.PINNED[RAW][1]
    assert plan.expected_sha256(entry, RAW) == ["ab", pin]
    assert plan.expected_sha256({**entry, "version": "2026-01-01"}, RAW) == ["ab"]
    assert plan.expected_sha256({}, RAW) == []
