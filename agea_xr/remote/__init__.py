"""Remote releases: fsspec storage options, listings, and clear network errors.

:func:`storage_options_for` fills in what a URL needs to be read without
surprises: anonymous access and the region for the public IBL bucket, short
connect timeouts and few retries for every ``s3://`` URL (an unreachable
endpoint fails within seconds instead of retrying for minutes). Options the
caller passes always win. :func:`list_release` reads a release folder's file
sizes, ETags and ``<date>.version`` marker in one listing, and
:func:`connection_errors` turns low-level network failures into a
:class:`ConnectionError` that names the URL and the ways to work offline, and a
missing S3 credential into a :class:`PermissionError` that says whether
``anon=True`` would do. :func:`read_range` reads one byte range and says so
when a server ignores range requests (rather than calling the file truncated).

Nothing here imports s3fs or botocore at module level.
"""

from __future__ import annotations

from .errors import (
    PROBE_MAX_ATTEMPTS,
    PROBE_READ_TIMEOUT,
    connection_errors,
    is_connection_error,
    is_credentials_error,
    is_missing_bucket,
    missing_bucket_message,
    probe,
    unreachable_message,
)
from .options import (
    CONNECT_TIMEOUT,
    IBL_BUCKET,
    MAX_ATTEMPTS,
    READ_TIMEOUT,
    S3FS_RETRIES,
    filesystem,
    is_official,
    is_url,
    normalize_url,
    storage_options_for,
)
from .reads import (
    RemoteFile,
    RemoteRelease,
    check_range,
    iter_blocks,
    list_release,
    read_range,
)

__all__ = [
    "CONNECT_TIMEOUT",
    "IBL_BUCKET",
    "MAX_ATTEMPTS",
    "PROBE_MAX_ATTEMPTS",
    "PROBE_READ_TIMEOUT",
    "READ_TIMEOUT",
    "S3FS_RETRIES",
    "RemoteFile",
    "RemoteRelease",
    "check_range",
    "connection_errors",
    "filesystem",
    "is_connection_error",
    "is_credentials_error",
    "is_missing_bucket",
    "is_official",
    "is_url",
    "iter_blocks",
    "list_release",
    "missing_bucket_message",
    "normalize_url",
    "probe",
    "read_range",
    "storage_options_for",
    "unreachable_message",
]
