"""Downloading the cell-type and lipid files into the cache: only what is asked, verified."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import agea_xr
from agea_xr import layout
from agea_xr import volumes_layout as vl
from agea_xr.cli import main
from agea_xr.fetch import ChecksumError, location, read_manifest, sync_volumes, transfer
from agea_xr.testing import write_agea_grid, write_lipids, write_merfish, write_synthetic

from .helpers import flip_one_byte, leftovers, one_config, sha256, unique_prefix

pytest_plugins = ["tests.s3server"]

MIB = 2**20
CLASS_FILES = ["classes.pqt", "merfish_class.npy", "merfish_class_labels.npy"]


@dataclass(frozen=True)
class Atlas:
    """iblatlas' layout on the server: ``<prefix>/agea``, ``/merfish``, ``/lipids``."""

    source: str  # the AGEA folder; the others are its siblings
    folder: Path  # the local original, holding agea/, merfish/ and lipids/
    options: dict


def write_atlas(root: Path) -> Path:
    write_merfish(root / "merfish")
    write_lipids(root / "lipids")
    write_synthetic(root / "agea", 2, version="2025-03-18")  # label, image, table, binary
    return root


def upload_atlas(s3_server, root: Path, prefix: str) -> str:
    for kind in ("agea", "merfish", "lipids"):  # volumes over 5 MiB in two parts
        s3_server.upload("agea-test", f"{prefix}/{kind}", root / kind, part_size=5 * MIB)
    return f"s3://agea-test/{prefix}/agea"


@pytest.fixture(scope="module")
def atlas(s3_server, tmp_path_factory) -> Atlas:
    """Every level, the lipids and the grid label on the server (read only: never changed)."""
    root = write_atlas(tmp_path_factory.mktemp("atlas"))
    url = upload_atlas(s3_server, root, unique_prefix("atlas"))
    return Atlas(url, root, {"anon": True, "endpoint_url": s3_server.endpoint})


def sibling(url: str, kind: str) -> str:
    return f"{url.rsplit('/', 1)[0]}/{kind}"


def files_under(folder: Path) -> dict[str, list[str]]:
    return {
        p.name: sorted(f.name for f in p.iterdir()) for p in sorted(folder.iterdir()) if p.is_dir()
    }


def test_only_the_asked_level_is_fetched_verified_and_recorded(atlas, tmp_path):
    cache = tmp_path / "c"
    got = agea_xr.download(
        atlas.source,
        cell_types="class",
        cache_dir=cache,
        storage_options=atlas.options,
        progress=False,
    )
    assert got == cache
    assert files_under(cache) == {
        "agea": ["2025-03-18.version", "label.npy"],
        "merfish": CLASS_FILES,
    }
    assert sorted(p.name for p in cache.iterdir() if p.is_file()) == sorted(
        [location.MANIFEST_FILE, location.LOCK_FILE]
    )  # no gene file: genes=None means "not when cell types or lipids are asked"
    for name in CLASS_FILES:
        assert (cache / "merfish" / name).read_bytes() == (
            atlas.folder / "merfish" / name
        ).read_bytes()
    assert (cache / "agea" / "label.npy").read_bytes() == (
        atlas.folder / "agea" / "label.npy"
    ).read_bytes()
    entry = read_manifest(cache)["files"][str(cache / "merfish" / "merfish_class.npy")]
    src = atlas.folder / "merfish" / "merfish_class.npy"
    assert entry["size"] == src.stat().st_size and entry["sha256"] == sha256(src)
    assert entry["etag"] == hashlib.md5(src.read_bytes()).hexdigest()
    assert entry["verified"] == "etag md5"
    assert entry["source"] == sibling(atlas.source, "merfish")


def test_genes_too_when_asked(atlas, tmp_path):
    cache = tmp_path / "c"
    got = agea_xr.download(
        atlas.source,
        cell_types="class",
        genes=True,
        cache_dir=cache,
        storage_options=atlas.options,
        progress=False,
    )
    assert got == cache  # the genes' folder: here the cache itself
    genes = [layout.TABLE_FILE, layout.LABEL_FILE, layout.IMAGE_FILE, layout.VARIANTS["raw"]]
    assert all((cache / n).read_bytes() == (atlas.folder / "agea" / n).read_bytes() for n in genes)
    assert sorted((cache / "merfish").iterdir()) == [cache / "merfish" / n for n in CLASS_FILES]
    assert agea_xr.open_dataset(cache).sizes["experiment"] == 2
    entries = read_manifest(cache)["files"]
    assert entries[str(cache / "agea" / "label.npy")]["sha256"] == sha256(cache / "label.npy")


def test_a_fine_level_brings_its_ancestors_tables_and_multipart_etags_verify(atlas, tmp_path):
    cache = tmp_path / "c"
    reports = sync_volumes(
        atlas.source,
        cell_types=["cluster"],
        lipids=True,
        cache_dir=cache,
        storage_options=atlas.options,
        progress=False,
    )
    assert [r.folder for r in reports] == [cache / "merfish", cache / "lipids", cache / "agea"]
    assert sorted(reports[0].downloaded) == sorted(vl.cell_type_files("cluster"))
    assert sorted(reports[1].downloaded) == sorted(vl.LIPID_FILES)
    entry = read_manifest(cache)["files"][str(cache / "merfish" / "merfish_cluster.npy")]
    assert entry["etag"].endswith("-2")  # 6.4 MB uploaded in 5 MiB parts
    assert entry["verified"] == "etag md5" and not any(r.unverified for r in reports)
    assert not (cache / "merfish" / "merfish_class.npy").exists()


def test_open_without_a_source_reads_the_cache(atlas, monkeypatch):
    # AGEA_XR_OFFLINE is set (tests/conftest.py): only a local folder can be found
    agea_xr.download(
        atlas.source,
        cell_types=["class", "cluster"],
        lipids=True,
        storage_options=atlas.options,
        progress=False,
    )
    cache = location.cache_dir()
    ct = agea_xr.open_cell_types(level="cluster")
    assert ct.attrs["source"] == str(cache / "merfish")
    assert ct.attrs["label_source"] == str(cache / "agea" / "label.npy")
    expected = np.load(atlas.folder / "merfish" / "merfish_cluster.npy")
    np.testing.assert_array_equal(ct.density.values, expected)
    np.testing.assert_array_equal(ct.label.values, np.load(atlas.folder / "agea" / "label.npy"))
    assert agea_xr.open_cell_types(level="class").sizes["cell_type"] == 8
    lp = agea_xr.open_lipids()
    assert lp.attrs["source"] == str(cache / "lipids")
    lipids = np.load(atlas.folder / "lipids" / vl.LIPID_FILE)
    np.testing.assert_array_equal(lp.intensity.values, lipids)
    with pytest.raises(FileNotFoundError, match=r"agea_xr.download\(cell_types=LEVEL\)"):
        agea_xr.open_cell_types(level="subclass")  # not asked, not fetched


def test_a_second_call_fetches_nothing(atlas, s3_server, tmp_path):
    proxy = s3_server.proxy()
    opts = {"anon": True, "endpoint_url": proxy.endpoint}
    kw = {"cell_types": "subclass", "lipids": True, "cache_dir": tmp_path / "c"}
    first = sync_volumes(atlas.source, storage_options=opts, progress=False, **kw)
    assert all(r.downloaded and not r.was_current for r in first)
    before = proxy.requests, proxy.downstream
    second = sync_volumes(atlas.source, storage_options=opts, progress=False, **kw)
    assert all(r.was_current and not r.downloaded for r in second)
    assert [sorted(r.current) for r in second] == [sorted(r.downloaded) for r in first]
    assert proxy.requests - before[0] == 3  # one listing per folder, nothing else
    assert proxy.downstream - before[1] < 16 * 1024


def test_unknown_level_names_the_valid_ones_before_any_work(tmp_path, no_network):
    cache = tmp_path / "c"
    with pytest.raises(
        ValueError,
        match="Unknown taxonomy level 'clas': choose one of 'class', "
        "'subclass', 'supertype', 'cluster'",
    ):
        agea_xr.download(cell_types=["subclass", "clas"], cache_dir=cache)
    with pytest.raises(TypeError, match="pass a taxonomy level"):
        agea_xr.download(cell_types=True, cache_dir=cache)
    with pytest.raises(ValueError, match="Nothing to download: genes=False"):
        agea_xr.download(genes=False, cache_dir=cache)
    with pytest.raises(
        ValueError, match="variant='processed' chooses the genes' binary.*genes=True"
    ):
        agea_xr.download(cell_types="class", variant="processed", cache_dir=cache)
    with pytest.raises(ValueError, match="Unknown variant 'proc'"):
        agea_xr.download(cell_types="class", variant="proc", cache_dir=cache)
    assert not cache.exists() and no_network == []


def test_a_truncated_volume_is_refused_before_anything_is_fetched(s3_server, tmp_path):
    root = write_atlas(tmp_path / "src")
    volume = root / "merfish" / "merfish_class.npy"
    full = volume.stat().st_size
    volume.write_bytes(volume.read_bytes()[:-1000])
    url = upload_atlas(s3_server, root, unique_prefix("truncated"))
    cache = tmp_path / "c"
    with pytest.raises(
        ValueError, match=f"has {full - 1000:,} bytes on the server, expected {full:,}"
    ):
        agea_xr.download(
            url,
            cell_types="class",
            cache_dir=cache,
            progress=False,
            storage_options={"anon": True, "endpoint_url": s3_server.endpoint},
        )
    assert not (cache / "merfish").exists() and not (cache / "agea").exists()
    assert read_manifest(cache)["files"] == {}


def test_a_file_missing_at_the_source_is_named_and_nothing_fetched(s3_server, tmp_path):
    root = write_atlas(tmp_path / "src")
    (root / "merfish" / "merfish_supertype.npy").unlink()
    url = upload_atlas(s3_server, root, unique_prefix("partial"))
    cache = tmp_path / "c"
    with pytest.raises(
        FileNotFoundError,
        match=r"merfish' \(at http://127.0.0.1:\d+\) holds no merfish_supertype.npy\.",
    ):
        sync_volumes(
            url,
            cell_types=["class", "supertype"],
            cache_dir=cache,
            progress=False,
            storage_options={"anon": True, "endpoint_url": s3_server.endpoint},
        )
    assert not (cache / "merfish").exists()


def test_corruption_in_transfer_is_refused_and_removed(atlas, s3_server, tmp_path, monkeypatch):
    monkeypatch.setattr(transfer, "BLOCK_SIZE", 256 * 1024)  # ranged GETs: no body CRC
    proxy = s3_server.proxy()
    opts = {"anon": True, "endpoint_url": proxy.endpoint}
    cache = tmp_path / "c"
    proxy.corrupt_next(min_chunk=32 * 1024)  # the volume is the first large body
    with pytest.raises(ChecksumError, match="merfish_class.npy' failed verification"):
        sync_volumes(
            atlas.source, cell_types="class", cache_dir=cache, storage_options=opts, progress=False
        )
    assert proxy.corrupted == 1
    assert not (cache / "merfish" / "merfish_class.npy").exists()
    assert leftovers(cache / "merfish") == []
    assert str(cache / "merfish" / "merfish_class.npy") not in read_manifest(cache)["files"]
    again = sync_volumes(
        atlas.source, cell_types="class", cache_dir=cache, storage_options=opts, progress=False
    )  # the next call fetches only what is missing
    assert again[0].downloaded == ["merfish_class.npy"]
    assert sorted(again[0].current) == ["classes.pqt", "merfish_class_labels.npy"]


def test_check_rehashes_removes_and_fetches_again(atlas, tmp_path):
    cache = tmp_path / "c"
    kw = {
        "cell_types": "class",
        "cache_dir": cache,
        "storage_options": atlas.options,
        "progress": False,
    }
    sync_volumes(atlas.source, **kw)
    flip_one_byte(cache / "merfish" / "merfish_class.npy", 5000)
    offline = sync_volumes(atlas.source, check=True, offline=True, **kw)
    assert offline[0].removed == ["merfish_class.npy"]
    assert offline[0].missing == ["merfish_class.npy"] and offline[1].missing == []
    assert sorted(offline[0].checked) == CLASS_FILES
    report = sync_volumes(atlas.source, check=True, **kw)
    assert report[0].downloaded == ["merfish_class.npy"]
    src = atlas.folder / "merfish" / "merfish_class.npy"
    assert (cache / "merfish" / "merfish_class.npy").read_bytes() == src.read_bytes()


def test_unreachable_source_is_a_connection_error(tmp_path):
    opts = {"anon": True, "endpoint_url": "http://127.0.0.1:9"}
    with pytest.raises(ConnectionError, match="Cannot reach 's3://agea-test/atlas/merfish'"):
        agea_xr.download(
            "s3://agea-test/atlas/agea",
            lipids=True,
            cell_types="class",
            cache_dir=tmp_path / "c",
            storage_options=opts,
            progress=False,
        )


def test_iblatlas_copy_of_the_official_files_is_used(s3_server, tmp_path, monkeypatch):
    bucket = "ibl-brain-wide-map-public"
    src = write_merfish(tmp_path / "official", ["class"])
    s3_server.delete_prefix(bucket, "atlas/merfish")
    s3_server.upload(bucket, "atlas/merfish", src)
    home, one = tmp_path / "home", tmp_path / "ONE"
    allen = one.joinpath(*layout.IBLATLAS_CACHE_SUBDIR).parent
    write_agea_grid(allen / "agea")  # what merfish.load_volume leaves: no gene table
    write_merfish(allen / "merfish", ["class"])
    one_config(home, one)
    monkeypatch.setenv("HOME", str(home))
    try:
        reports = sync_volumes(
            cell_types="class",
            storage_options={"endpoint_url": s3_server.endpoint},
            progress=False,
        )
    finally:
        s3_server.delete_prefix(bucket, "atlas/merfish")
    merfish = reports[0]
    assert merfish.reused_iblatlas and merfish.folder == allen / "merfish"
    assert merfish.downloaded == [] and sorted(merfish.current) == CLASS_FILES
    assert not (location.cache_dir() / "merfish").exists()
    assert agea_xr.open_cell_types(level="class").attrs["source"] == str(allen / "merfish")
    offline = sync_volumes(cell_types="class", offline=True, progress=False)[0]
    assert offline.folder == allen / "merfish" and offline.missing == []


def test_cli_download_of_cell_types_and_lipids(atlas, tmp_path, capsys):
    cache = tmp_path / "c"
    argv = [
        "download",
        "--source",
        atlas.source,
        "--endpoint-url",
        atlas.options["endpoint_url"],
        "--anon",
        "--cell-types",
        "class",
        "--lipids",
        "--cache-dir",
        str(cache),
        "--no-progress",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    merfish = sibling(atlas.source, "merfish")
    assert f"cell types unknown from {merfish}: cache updated in {cache / 'merfish'}" in out
    assert f"grid label 2025-03-18 from {atlas.source}: cache updated in {cache / 'agea'}" in out
    assert "raw release" not in out  # no genes
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("cache current") == 3 and "downloaded" not in out
    (cache / "lipids" / vl.LIPID_FILE).unlink()
    assert main([*argv, "--offline"]) == 1
    out = capsys.readouterr().out
    assert f"missing (not downloaded: offline): {vl.LIPID_FILE}" in out
    assert "(run `agea-xr download --cell-types class --lipids` to fetch" in out


def test_cli_download_bad_input_is_a_message(tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        main(["download", "--cell-types", "clas", "--cache-dir", str(tmp_path / "c")])
    assert done.value.code == 2
    assert "argument --cell-types: invalid choice: 'clas'" in capsys.readouterr().err
    assert main(["download", "--no-genes", "--cache-dir", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("agea-xr download: error: Nothing to download: --no-genes")
    argv = ["download", "--cell-types", "class", "--variant", "processed"]
    assert main([*argv, "--cache-dir", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err
    assert "--variant processed chooses the genes' binary" in err and "--with-genes" in err
    assert not (tmp_path / "c").exists()
    args = [
        "download",
        "--source",
        "s3://agea-test/atlas/agea",
        "--endpoint-url",
        "http://127.0.0.1:9",
        "--anon",
        "--cell-types",
        "class",
        "--cache-dir",
        str(tmp_path / "c"),
        "--no-progress",
    ]
    assert main(args) == 1
    assert capsys.readouterr().err.startswith(
        "agea-xr download: error: Cannot reach 's3://agea-test/atlas/merfish'"
    )


def test_a_link_planted_for_a_folder_is_never_written_through(atlas, tmp_path):
    cache, elsewhere = tmp_path / "c", tmp_path / "elsewhere"
    elsewhere.mkdir()
    cache.mkdir()
    (cache / "lipids").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(OSError, match="lipids' is a symbolic link"):
        sync_volumes(
            atlas.source,
            lipids=True,
            cache_dir=cache,
            storage_options=atlas.options,
            progress=False,
        )
    assert list(elsewhere.iterdir()) == []


def test_a_multipart_etag_that_cannot_be_checked_is_reported_unverified(s3_server, tmp_path):
    root = tmp_path / "src"
    write_lipids(root / "lipids")
    write_agea_grid(root / "agea")
    prefix = unique_prefix("odd")
    odd = 5 * MIB + 12_345  # no usual part size, no whole MiB: the ETag cannot be derived
    s3_server.upload("agea-test", f"{prefix}/lipids", root / "lipids", part_size=odd)
    s3_server.upload("agea-test", f"{prefix}/agea", root / "agea")
    cache = tmp_path / "c"
    reports = sync_volumes(
        f"s3://agea-test/{prefix}/agea",
        lipids=True,
        cache_dir=cache,
        storage_options={"anon": True, "endpoint_url": s3_server.endpoint},
        progress=False,
    )
    assert reports[0].unverified == [vl.LIPID_FILE]  # kept, never counted as verified
    assert "unverified (the server's ETag could not be checked)" in reports[0].summary()
    entry = read_manifest(cache)["files"][str(cache / "lipids" / vl.LIPID_FILE)]
    assert entry["verified"] == "unverified"
    assert entry["sha256"] == sha256(root / "lipids" / vl.LIPID_FILE)  # for a later check
