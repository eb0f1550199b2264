"""Helpers shared by the tests of the cache (plain functions; fixtures are in conftest)."""

from __future__ import annotations

import hashlib
import itertools
import json
import os

from agea_xr import layout
from agea_xr.fetch import hashes, transfer
from agea_xr.testing import write_synthetic

N = 12
RAW = layout.VARIANTS["raw"]
PROCESSED = layout.VARIANTS["processed"]
SMALL = (layout.TABLE_FILE, layout.LABEL_FILE, layout.IMAGE_FILE)
_prefixes = itertools.count()


def unique_prefix(stem: str = "release") -> str:
    """A prefix (or folder name) no other test uses."""
    return f"{stem}-{next(_prefixes)}"


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def options(s3_server) -> dict:
    return {"anon": True, "endpoint_url": s3_server.endpoint}


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if transfer.PART_SUFFIX in p.name)


def one_config(home, root) -> None:
    (home / ".one").mkdir(parents=True)
    key = "openalyx.internationalbrainlab.org"
    (home / ".one" / ".caches").write_text(
        json.dumps({"CLIENT_MAP": {key: str(root)}, "DEFAULT": key})
    )


def snapshot(folder) -> dict:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


def count_hashing(monkeypatch) -> list[str]:
    """Record the name of every file that the cache hashes (``hashes.digest_file``)."""
    names: list[str] = []
    original = hashes.digest_file

    def digest_file(path, *args, **kwargs):
        names.append(os.path.basename(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(hashes, "digest_file", digest_file)
    return names


def iblatlas(tmp_path, monkeypatch, version, n=N):
    home = tmp_path / "home"
    root = tmp_path / "ONE"
    ibl = write_synthetic(root.joinpath(*layout.IBLATLAS_CACHE_SUBDIR), n, version=version)
    one_config(home, root)
    monkeypatch.setenv("HOME", str(home))
    return ibl


def flip_one_byte(path, offset) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x01]))
