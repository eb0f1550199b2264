"""The verified local cache of the release: where it is, what it holds, how it is filled."""

from __future__ import annotations

from .cache import (
    CacheReport,
    ChecksumError,
    cache_dir,
    cached_source,
    download,
    ensure,
    iblatlas_cache,
    read_manifest,
    sync,
)

__all__ = [
    "CacheReport",
    "ChecksumError",
    "cache_dir",
    "cached_source",
    "download",
    "ensure",
    "iblatlas_cache",
    "read_manifest",
    "sync",
]
