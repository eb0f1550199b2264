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

import contextlib
import copy
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import layout

__all__ = [
    "CONNECT_TIMEOUT",
    "MAX_ATTEMPTS",
    "READ_TIMEOUT",
    "RemoteFile",
    "RemoteRelease",
    "check_range",
    "connection_errors",
    "filesystem",
    "is_connection_error",
    "is_credentials_error",
    "is_official",
    "is_url",
    "list_release",
    "normalize_url",
    "probe",
    "read_range",
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
#: Read timeout of the reachability probe at open (seconds), unless the caller's is shorter.
PROBE_READ_TIMEOUT = 5
#: Attempts of the probe's request.
PROBE_MAX_ATTEMPTS = 2
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


def is_connection_error(err: BaseException) -> bool:
    """Whether ``err`` (or its cause) means the endpoint could not be reached or stalled.

    Parameters
    ----------
    err : BaseException

    Returns
    -------
    bool

    Examples
    --------
    >>> is_connection_error(ConnectionRefusedError()), is_connection_error(ValueError())
    (True, False)
    """
    names = {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ClientConnectorError",
        "ServerDisconnectedError",
        "ClientPayloadError",
        "ClientOSError",
        "FSTimeoutError",
        "ProxyConnectionError",
    }
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, (ConnectionError, TimeoutError)):
            return True
        if any(cls.__name__ in names for cls in type(err).__mro__):
            return True
        err = err.__cause__ or err.__context__
    return False


def _endpoint(options: Mapping[str, Any]) -> str:
    endpoint = options.get("endpoint_url") or (options.get("client_kwargs") or {}).get(
        "endpoint_url"
    )
    return f" (endpoint {endpoint})" if endpoint else ""


def unreachable_message(url: str, options: Mapping[str, Any], err: BaseException) -> str:
    """The message of the error raised when ``url`` cannot be reached.

    Parameters
    ----------
    url : str
    options : mapping
        The storage options in use (their endpoint is named).
    err : BaseException
        The underlying error.

    Returns
    -------
    str
    """
    return (
        f"Cannot reach {url!r}{_endpoint(options)}: {type(err).__name__}: {err}. "
        "Check the network connection (or the endpoint_url in storage_options). To work "
        "offline, use agea_xr.open_sample() for the bundled two-experiment sample, "
        "open a local copy with agea_xr.open_dataset('/path/to/agea'), or point the "
        "cache at one with the AGEA_XR_CACHE environment variable."
    )


def is_credentials_error(err: BaseException) -> bool:
    """Whether ``err`` (or its cause) means no S3 credentials were found.

    Parameters
    ----------
    err : BaseException

    Returns
    -------
    bool

    Examples
    --------
    >>> is_credentials_error(RuntimeError("Unable to locate credentials"))
    True
    >>> is_credentials_error(KeyError("x"))
    False
    """
    names = {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"}
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if any(cls.__name__ in names for cls in type(err).__mro__):
            return True
        if "Unable to locate credentials" in str(err):
            return True
        err = err.__cause__ or err.__context__
    return False


def _credentials_error(url: str, options: Mapping[str, Any], err: BaseException) -> OSError:
    """What to raise when no credentials were found for ``url``: try it anonymously once.

    A public bucket answers an anonymous listing: then the remedy is ``anon=True``.
    An endpoint that cannot be reached is a :class:`ConnectionError` (the missing
    credentials are not the problem yet); anything else needs credentials.
    """
    where = f"{url!r}{_endpoint(options)}"
    anon_tried = "anon" in options
    if not anon_tried and _bucket(url) is not None:
        anon = {**dict(options), "anon": True}
        try:
            fs, root = filesystem(url, anon)
            fs.ls(root, detail=False, refresh=True)
        except FileNotFoundError:
            pass  # reachable anonymously; the folder itself is reported by the caller
        except Exception as again:
            if is_connection_error(again):
                return ConnectionError(unreachable_message(url, options, again))
            return PermissionError(
                f"No S3 credentials were found to read {where} ({type(err).__name__}: "
                f"{err}), and it cannot be read anonymously either ({type(again).__name__}: "
                f"{again}). Configure credentials (the AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY environment variables, an AWS profile, or "
                "storage_options={'key': ..., 'secret': ...})."
            )
        return PermissionError(
            f"No S3 credentials were found to read {where} ({type(err).__name__}: {err}), "
            "and it is readable anonymously: pass storage_options={'anon': True} (--anon "
            "on the command line), or configure AWS credentials."
        )
    return PermissionError(
        f"No S3 credentials were found to read {where} ({type(err).__name__}: {err}). "
        "Pass storage_options={'anon': True} for a public bucket, or configure AWS "
        "credentials (environment variables, an AWS profile, or storage_options "
        "{'key': ..., 'secret': ...})."
    )


@contextlib.contextmanager
def connection_errors(url: str | os.PathLike, options: Mapping[str, Any] | None = None):
    """Re-raise network failures inside the block as clear errors that name ``url``.

    Parameters
    ----------
    url : str or os.PathLike
        What was being read (named in the message).
    options : mapping, optional
        Storage options in use (their endpoint is named).

    Raises
    ------
    ConnectionError
        If the block raised an error that :func:`is_connection_error` recognises.
    PermissionError
        If no S3 credentials were found (:func:`is_credentials_error`); the message
        says whether ``storage_options={'anon': True}`` reads the URL.

    Examples
    --------
    >>> with connection_errors("s3://bucket/agea"):
    ...     raise TimeoutError("timed out")
    Traceback (most recent call last):
    ...
    ConnectionError: Cannot reach 's3://bucket/agea': TimeoutError: timed out. ...
    """
    try:
        yield
    except (ConnectionError, PermissionError) as err:
        if str(url) in str(err):
            raise
        if isinstance(err, PermissionError):
            raise PermissionError(
                f"Cannot read {str(url)!r}{_endpoint(options or {})}: {err}"
            ) from err
        raise ConnectionError(unreachable_message(str(url), options or {}, err)) from err
    except Exception as err:
        if is_credentials_error(err):
            raise _credentials_error(str(url), options or {}, err) from err
        if not is_connection_error(err):
            raise
        raise ConnectionError(unreachable_message(str(url), options or {}, err)) from err


def probe(url: str | os.PathLike, storage_options: Mapping[str, Any] | None = None) -> None:
    """List ``url`` once, so that an unreachable endpoint fails now, clearly.

    fsspec's existence checks (``isfile``, ``exists``) answer False when the
    endpoint cannot be reached; probing first turns that into a
    :class:`ConnectionError` that names the URL. A missing folder is not an
    error here, nor is any other failure to list (some servers, e.g. plain HTTP,
    cannot list folders): the caller reports those with its own message.

    Parameters
    ----------
    url : str or os.PathLike
        fsspec URL of a release folder.
    storage_options : mapping, optional
        Options as given to fsspec (see :func:`storage_options_for`).

    Raises
    ------
    ConnectionError
        If the endpoint cannot be reached or does not answer in time.
    PermissionError
        If no S3 credentials were found (the message says whether ``anon=True`` helps).

    Examples
    --------
    >>> probe("memory://agea-nothing-here")
    """
    options = copy.deepcopy(dict(storage_options or {}))
    config = options.get("config_kwargs")
    if isinstance(config, Mapping) and _bucket(os.fspath(url)) is not None:
        # a stalled endpoint must fail in seconds, however patient the data reads are
        config = dict(config)
        config["read_timeout"] = min(config.get("read_timeout", READ_TIMEOUT), PROBE_READ_TIMEOUT)
        config["retries"] = {"total_max_attempts": PROBE_MAX_ATTEMPTS, "mode": "standard"}
        options["config_kwargs"] = config
    with connection_errors(url, options):
        fs, root = filesystem(url, options)
        try:
            fs.ls(root, detail=False, refresh=True)
        except Exception as err:  # only reachability matters here (e.g. HTTP may not list)
            if is_connection_error(err) or is_credentials_error(err):
                raise


@dataclass(frozen=True)
class RemoteFile:
    """One file of a remote release.

    Attributes
    ----------
    name : str
        File name inside the release folder.
    path : str
        Path as the filesystem knows it (no protocol).
    size : int
        Bytes.
    etag : str or None
        The server's ETag, without quotes, when offered.
    """

    name: str
    path: str
    size: int
    etag: str | None = None


@dataclass
class RemoteRelease:
    """A listing of a release folder.

    Attributes
    ----------
    url : str
        The folder's URL (normalised).
    fs : fsspec.AbstractFileSystem
        The filesystem that reads it.
    options : dict
        The storage options in use.
    version : str
        The newest ``<date>.version`` marker, or ``"unknown"``.
    files : dict of str to RemoteFile
        The files of the release found there.
    """

    url: str
    fs: Any
    options: dict[str, Any]
    version: str = "unknown"
    files: dict[str, RemoteFile] = field(default_factory=dict)


def list_release(
    url: str | os.PathLike, storage_options: Mapping[str, Any] | None = None
) -> RemoteRelease:
    """List a release folder: sizes, ETags and the version marker, in one request.

    Parameters
    ----------
    url : str or os.PathLike
        fsspec URL (or local path) of the folder.
    storage_options : mapping, optional
        Passed through :func:`storage_options_for`.

    Returns
    -------
    RemoteRelease

    Raises
    ------
    ConnectionError
        If the endpoint cannot be reached (within seconds; the message names the URL
        and how to work offline).
    PermissionError
        If no S3 credentials were found (the message says whether ``anon=True`` helps).
    FileNotFoundError
        If the folder does not exist or holds no AGEA table.

    Examples
    --------
    >>> import agea_xr
    >>> release = list_release(agea_xr.sample_path())
    >>> release.files["gene-expression.bin"].size
    637304
    """
    text = normalize_url(url)
    options = storage_options_for(text, storage_options)
    with connection_errors(text, options):
        fs, root = filesystem(text, options)
        try:
            entries = fs.ls(root, detail=True, refresh=True)
        except FileNotFoundError:
            entries = []
    release = RemoteRelease(url=text, fs=fs, options=options)
    versions = []
    for entry in entries:
        if entry.get("type") != "file":
            continue
        name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
        if name.endswith(layout.VERSION_SUFFIX):
            versions.append(name)
        elif name in layout.FILES:
            etag = entry.get("ETag") or entry.get("etag")
            release.files[name] = RemoteFile(
                name=name,
                path=entry["name"],
                size=int(entry["size"]),
                etag=str(etag).strip('"') if etag else None,
            )
    release.version = layout.newest_version(versions)
    if layout.TABLE_FILE not in release.files:
        found = sorted(e["name"].rsplit("/", 1)[-1] for e in entries)
        raise FileNotFoundError(
            f"No AGEA release at {text!r}{_endpoint(options)}: it holds "
            f"{found[:10] if found else 'nothing'}, an AGEA folder holds "
            f"{layout.TABLE_FILE} and {layout.VARIANTS['raw']}. Check the URL (the official "
            f"release is {layout.BUCKET_URL!r})."
        )
    return release


def iter_blocks(size: int, start: int, block: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` byte ranges of at most ``block`` bytes from ``start`` to ``size``.

    Parameters
    ----------
    size, start, block : int

    Yields
    ------
    tuple of int

    Examples
    --------
    >>> list(iter_blocks(10, 2, 4))
    [(2, 6), (6, 10)]
    """
    for a in range(start, size, block):
        yield a, min(a + block, size)


def check_range(data: bytes, start: int, stop: int, url: str) -> None:
    """Refuse the reply to a byte-range request that holds more than the range.

    A server that ignores the ``Range`` header answers with the whole object:
    more bytes than asked. (Fewer bytes mean a truncated object; the caller says so.)

    Parameters
    ----------
    data : bytes
        The reply.
    start, stop : int
        The byte range asked for, ``stop`` exclusive.
    url : str
        The object's URL, named in the message.

    Raises
    ------
    OSError
        If ``data`` is longer than ``stop - start``.

    Examples
    --------
    >>> check_range(b"abcd", 0, 4, "http://host/agea/gene-expression.bin")
    >>> check_range(b"abcdefgh", 0, 4, "http://host/agea/gene-expression.bin")
    Traceback (most recent call last):
    ...
    OSError: The server of 'http://host/agea/gene-expression.bin' ignores byte-range ...
    """
    if len(data) > stop - start:
        raise OSError(
            f"The server of {url!r} ignores byte-range requests: asked for bytes "
            f"{start:,}-{stop:,} ({stop - start:,} bytes), it sent {len(data):,} bytes "
            "(the whole file, it seems). Reading experiments one at a time needs HTTP "
            "Range requests: serve the folder from a server that supports them (any S3 "
            "store; nginx and Apache do), or download it and open the local copy."
        )


def read_range(
    fs: Any,
    path: str,
    start: int,
    stop: int,
    *,
    url: str,
    options: Mapping[str, Any] | None = None,
) -> bytes:
    """Bytes ``start`` to ``stop`` of a remote file, with failures that name ``url``.

    Parameters
    ----------
    fs : fsspec.AbstractFileSystem
    path : str
        The file's path as ``fs`` knows it.
    start, stop : int
        Byte range, ``stop`` exclusive.
    url : str
        The file's URL, named in messages.
    options : mapping, optional
        Storage options in use (their endpoint is named).

    Returns
    -------
    bytes
        At most ``stop - start`` bytes (fewer if the object is shorter).

    Raises
    ------
    ConnectionError
        If the endpoint cannot be reached or stops answering.
    PermissionError
        If no S3 credentials were found.
    OSError
        If the server ignores byte-range requests (:func:`check_range`).

    Examples
    --------
    >>> import fsspec
    >>> fs = fsspec.filesystem("memory")
    >>> fs.pipe("/agea-doc/x.bin", b"0123456789")
    >>> read_range(fs, "/agea-doc/x.bin", 2, 5, url="memory://agea-doc/x.bin")
    b'234'
    """
    with connection_errors(url, options):
        data = fs.cat_file(path, start=start, end=stop)
    check_range(data, start, stop, url)
    return data
