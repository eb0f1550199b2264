"""fsspec access to remote releases: URLs, filesystems and storage options.

:func:`storage_options_for` fills in what a URL needs to be read without
surprises: anonymous access and the region for the public IBL bucket, short
connect timeouts and few retries for every ``s3://`` URL (an unreachable
endpoint fails within seconds instead of retrying for minutes). Options the
caller passes always win. Nothing here imports s3fs or botocore at module level.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import Any

from .. import layout

__all__ = [
    "CONNECT_TIMEOUT",
    "IBL_BUCKET",
    "MAX_ATTEMPTS",
    "READ_TIMEOUT",
    "S3FS_RETRIES",
    "filesystem",
    "is_official",
    "is_url",
    "normalize_url",
    "storage_options_for",
]

#: Seconds to wait for a TCP connection to an S3 endpoint.
CONNECT_TIMEOUT = 5
#: Seconds to wait for the next bytes of a response before giving up.
READ_TIMEOUT = 20
#: Attempts per S3 request (botocore "standard" retry mode counts the first one).
MAX_ATTEMPTS = 3
#: s3fs repeats every failed request itself (5 times by default) on top of botocore's
#: attempts, which turns a stalled endpoint into minutes: one s3fs try is enough.
S3FS_RETRIES = 1
#: Bucket of the official release (anonymous, ``us-east-1``).
IBL_BUCKET = layout.BUCKET_URL.split("://", 1)[1].split("/", 1)[0]
#: Options that mean the caller chose how to authenticate.
_AUTH_KEYS = frozenset({"anon", "key", "secret", "token", "profile", "session"})


def is_url(location: str | os.PathLike) -> bool:
    """Whether ``location`` is an fsspec URL (``proto://...``) rather than a local path.

    Parameters
    ----------
    location : str or os.PathLike

    Returns
    -------
    bool

    Examples
    --------
    >>> is_url("s3://bucket/agea"), is_url("/data/agea"), is_url("file:///data/agea")
    (True, False, True)
    """
    return "://" in str(location)


def filesystem(url: str | os.PathLike, storage_options: Mapping[str, Any] | None = None):
    """The fsspec filesystem and path of ``url``, with bounded retries for S3.

    Parameters
    ----------
    url : str or os.PathLike
        fsspec URL.
    storage_options : mapping, optional
        Options as given to fsspec (see :func:`storage_options_for`).

    Returns
    -------
    fs : fsspec.AbstractFileSystem
    path : str
        ``url`` without its protocol.

    Examples
    --------
    >>> fs, path = filesystem("memory://agea/x")
    >>> path
    '/agea/x'
    """
    import fsspec

    fs, path = fsspec.core.url_to_fs(os.fspath(url), **dict(storage_options or {}))
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    if "s3" in protocols:
        fs.retries = S3FS_RETRIES
    return fs, path


def normalize_url(url: str | os.PathLike) -> str:
    """A release URL without trailing slashes; ``s3a://`` spelled ``s3://``.

    Parameters
    ----------
    url : str or os.PathLike

    Returns
    -------
    str

    Examples
    --------
    >>> normalize_url("s3://ibl-brain-wide-map-public/atlas/agea/")
    's3://ibl-brain-wide-map-public/atlas/agea'
    """
    text = os.fspath(url).rstrip("/")
    if text.startswith("s3a://"):
        text = "s3://" + text[len("s3a://") :]
    return text


def is_official(url: str | os.PathLike) -> bool:
    """Whether ``url`` is the official IBL release folder (the one the sha256 pins cover).

    Parameters
    ----------
    url : str or os.PathLike

    Returns
    -------
    bool

    Examples
    --------
    >>> is_official("s3://ibl-brain-wide-map-public/atlas/agea/")
    True
    >>> is_official("s3://my-mirror/atlas/agea")
    False
    """
    return normalize_url(url) == layout.BUCKET_URL


def _bucket(url: str) -> str | None:
    text = normalize_url(url)
    if not text.startswith("s3://"):
        return None
    return text[len("s3://") :].split("/", 1)[0]


def storage_options_for(
    url: str | os.PathLike, storage_options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The fsspec storage options used for ``url``: defaults, then the caller's.

    Parameters
    ----------
    url : str or os.PathLike
        fsspec URL of a release folder or file.
    storage_options : mapping, optional
        The caller's options; they override the defaults key by key
        (``config_kwargs`` and ``client_kwargs`` are merged one level deeper).

    Returns
    -------
    dict
        For ``s3://`` URLs: botocore ``connect_timeout``, ``read_timeout`` and
        a few retries; for the IBL bucket also ``anon=True`` (unless the caller
        passed credentials or ``anon``) and region ``us-east-1``. Other
        protocols get the caller's options unchanged.

    Examples
    --------
    >>> opts = storage_options_for("s3://ibl-brain-wide-map-public/atlas/agea")
    >>> opts["anon"], opts["config_kwargs"]["connect_timeout"]
    (True, 5)
    >>> storage_options_for("s3://ibl-brain-wide-map-public/atlas/agea", {"anon": False})["anon"]
    False
    >>> storage_options_for("memory://agea", {"x": 1})
    {'x': 1}
    """
    given = copy.deepcopy(dict(storage_options or {}))
    bucket = _bucket(os.fspath(url))
    if bucket is None:
        return given
    options: dict[str, Any] = {
        "config_kwargs": {
            "connect_timeout": CONNECT_TIMEOUT,
            "read_timeout": READ_TIMEOUT,
            "retries": {"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"},
        }
    }
    if bucket == IBL_BUCKET:
        if not _AUTH_KEYS & given.keys():
            options["anon"] = True
        if "endpoint_url" not in given:
            options["client_kwargs"] = {"region_name": layout.BUCKET_REGION}
    for key, value in given.items():
        if key in ("config_kwargs", "client_kwargs") and isinstance(value, Mapping):
            options[key] = {**options.get(key, {}), **value}
        else:
            options[key] = value
    return options
