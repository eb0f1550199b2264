"""The verified local cache of the release: where it is, what it holds, how it is filled.

One module per job, each importing only those above it in this list (and the
package's lower layers: layout, volumes_layout, remote, release, _files):

- :mod:`~agea_xr.fetch.location`: the cache folder, its manifest, lock and version marker;
- :mod:`~agea_xr.fetch.plan`: pure per-file decisions (current, download, same content);
- :mod:`~agea_xr.fetch.hashes`: sha256, MD5, S3 ETags (multipart too), ``ChecksumError``;
- :mod:`~agea_xr.fetch.transfer`: the resumable, verified transfer of one file;
- :mod:`~agea_xr.fetch.adopt`: adopting a manual copy or iblatlas' cache;
- :mod:`~agea_xr.fetch.steps`: the steps every sync shares (the report, listing,
  re-check, current files, one recorded transfer);
- :mod:`~agea_xr.fetch.volumes`: :func:`sync_volumes`, the MERFISH cell-type and
  lipid files (only the levels asked for) and the grid label beside them;
- :mod:`~agea_xr.fetch.sync`: :func:`sync`, :func:`download`, :func:`ensure`,
  :func:`cached_source`.
"""

from __future__ import annotations

from .adopt import iblatlas_cache
from .hashes import ChecksumError
from .location import cache_dir, read_manifest
from .steps import CacheReport
from .sync import cached_source, download, ensure, sync
from .volumes import sync_volumes

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
    "sync_volumes",
]
