"""Where the cache is and what it records: folder, manifest, lock (issue 10, case 16)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import agea_xr
from agea_xr.fetch import cache_dir, location, read_manifest

from .helpers import RAW, SMALL, leftovers, sha256

pytest_plugins = ["tests.s3server"]


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
    assert leftovers(target) == []
    release_bytes = sum((src / n).stat().st_size for n in (*SMALL, RAW))
    assert proxy.downstream < 1.5 * release_bytes  # the second one reused, not re-fetched
    assert read_manifest(target)["files"][str(target / RAW)]["sha256"] == sha256(src / RAW)


# --- a cache folder that is a file ---------------------------------------------------
def test_a_cache_dir_argument_that_is_a_file_is_named(tmp_path):
    path = tmp_path / "not-a-folder"
    path.write_text("x")
    message = rf"The cache folder '{path}' \(from cache_dir\) is a file, not a folder: pass a"
    with pytest.raises(NotADirectoryError, match=message):
        cache_dir(path)
    with pytest.raises(NotADirectoryError, match=message):
        agea_xr.download(agea_xr.sample_path(), cache_dir=path, progress=False)
    assert path.read_text() == "x"


def test_the_cache_env_var_pointing_at_a_file_is_named(tmp_path, monkeypatch):
    path = tmp_path / "cache-file"
    path.write_text("x")
    monkeypatch.setenv(location.CACHE_ENV, str(path))
    message = (
        rf"The cache folder '{path}' \(from \$AGEA_XR_CACHE\) is a file, not a folder: "
        r"set AGEA_XR_CACHE to a folder \(it is created if absent\), or unset it\."
    )
    with pytest.raises(NotADirectoryError, match=message):
        cache_dir()
    with pytest.raises(NotADirectoryError, match=message):
        agea_xr.open_dataset()
    with pytest.raises(NotADirectoryError, match=message):
        read_manifest()


# --- a damaged manifest ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("manifest", "what"),
    [
        ({"format": 1, "files": {"/x/label.npy": 3}}, r"the files entry '/x/label\.npy' is 3"),
        ({"format": 1, "files": {"/x/a": ["size"]}}, r"the files entry '/x/a' is \['size'\]"),
        ({"format": 1, "files": {}, "rejected": [1]}, r"'rejected' is list, not a mapping"),
        ({"format": 1, "files": {}, "rejected": {"/x": None}}, r"the rejected entry '/x' is None"),
    ],
)
def test_a_manifest_whose_entries_are_not_objects_is_named_as_damaged(tmp_path, manifest, what):
    folder = location.cache_dir()
    folder.mkdir(parents=True)
    path = folder / location.MANIFEST_FILE
    path.write_text(json.dumps(manifest))
    message = rf"The cache manifest '{path}' is damaged \({what}.*\)\. Delete it; the next"
    with pytest.raises(ValueError, match=message):
        read_manifest()
    with pytest.raises(ValueError, match=message):
        agea_xr.open_dataset()
    path.unlink()  # the remedy the message gives works
    assert read_manifest() == {"format": 1, "files": {}}


def test_a_manifest_that_is_not_json_is_named_as_damaged():
    folder = location.cache_dir()
    folder.mkdir(parents=True)
    (folder / location.MANIFEST_FILE).write_bytes(b"\xff\xfe not json")
    with pytest.raises(ValueError, match=r"agea-xr-manifest\.json' is damaged \("):
        read_manifest()


def test_the_manifest_is_written_atomically_and_read_back(tmp_path):
    manifest = {"format": 1, "files": {"/x/label.npy": {"size": 3}}}
    location.write_manifest(tmp_path, manifest)
    assert read_manifest(tmp_path) == manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == [location.MANIFEST_FILE]


def test_the_version_marker_is_one_regular_file(tmp_path):
    (tmp_path / "2024-01-01.version").touch()
    location.write_version_marker(tmp_path, "2025-03-18")
    assert [p.name for p in tmp_path.iterdir()] == ["2025-03-18.version"]
    assert location.folder_version(tmp_path) == "2025-03-18"
    location.write_version_marker(tmp_path, "unknown")
    assert list(tmp_path.iterdir()) == [] and location.folder_version(tmp_path) == "unknown"
