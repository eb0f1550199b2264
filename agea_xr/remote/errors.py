"""Clear network errors: unreachable endpoints, missing credentials, the probe at open.

:func:`connection_errors` turns low-level network failures into a
:class:`ConnectionError` that names the URL and the ways to work offline, and a
missing S3 credential into a :class:`PermissionError` that says whether
``anon=True`` would do; :func:`probe` checks a URL within seconds at open;
:func:`is_missing_bucket` tells a bucket that does not exist from a missing file.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Mapping
from typing import Any

from .. import volumes_layout as vl
from .options import READ_TIMEOUT, _bucket, filesystem

__all__ = [
    "PROBE_MAX_ATTEMPTS",
    "PROBE_READ_TIMEOUT",
    "connection_errors",
    "is_connection_error",
    "is_credentials_error",
    "is_missing_bucket",
    "missing_bucket_message",
    "probe",
    "unreachable_message",
]

#: Read timeout of the reachability probe at open (seconds), unless the caller's is shorter.
PROBE_READ_TIMEOUT = 5
#: Attempts of the probe's request.
PROBE_MAX_ATTEMPTS = 2


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
    folders = set(str(url).rstrip("/").split("/"))
    if folders & {vl.MERFISH_FOLDER, vl.LIPIDS_FOLDER}:
        offline = (
            "offline, open a local copy with agea_xr.open_cell_types('/path/to/merfish', "
            "level=...) or agea_xr.open_lipids('/path/to/lipids'), or use the cache filled "
            "by agea_xr.download(cell_types=..., lipids=True) with the AGEA_XR_OFFLINE=1 "
            "environment variable (the bucket is then never tried)."
        )
    else:
        offline = (
            "offline, use agea_xr.open_sample() for the bundled two-experiment sample, "
            "open a local copy with agea_xr.open_dataset('/path/to/agea'), or point the "
            "cache at one with the AGEA_XR_CACHE environment variable (and set "
            "AGEA_XR_OFFLINE=1 to never try the bucket)."
        )
    return (
        f"Cannot reach {url!r}{_endpoint(options)}: {type(err).__name__}: {err}. "
        "Check the network connection (or the endpoint_url in storage_options). To work " + offline
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
    return _chain_says(err, names, lambda text: "Unable to locate credentials" in text)


def is_missing_bucket(err: BaseException) -> bool:
    """Whether ``err`` (or its cause) says the bucket itself does not exist.

    Parameters
    ----------
    err : BaseException

    Returns
    -------
    bool

    Examples
    --------
    >>> is_missing_bucket(FileNotFoundError("The specified bucket does not exist"))
    True
    >>> is_missing_bucket(FileNotFoundError("agea/label.npy"))
    False
    """
    return _chain_says(
        err, {"NoSuchBucket"}, lambda text: "specified bucket does not exist" in text.lower()
    )


def _chain_says(err: BaseException, names: set[str], says) -> bool:
    """Whether an error of ``err``'s chain is of a class ``names`` (or a subclass) or ``says``."""
    return any(
        any(cls.__name__ in names for cls in type(e).__mro__) or says(str(e)) for e in _chain(err)
    )


def _chain(err: BaseException | None):
    """``err`` and the errors it was raised from (its causes and contexts), once each."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


def missing_bucket_message(url: str, options: Mapping[str, Any]) -> str:
    """The message of the error raised when the bucket of ``url`` does not exist.

    Parameters
    ----------
    url : str
    options : mapping
        The storage options in use (their endpoint is named).

    Returns
    -------
    str

    Examples
    --------
    >>> missing_bucket_message("s3://no-such-bucket/atlas/merfish", {}).split(":")[0]
    "The bucket 'no-such-bucket' of 's3"
    """
    bucket = _bucket(url) or url
    return (
        f"The bucket {bucket!r} of {url!r}{_endpoint(options)} does not exist: check the "
        "URL (and the endpoint_url in storage_options, for a mirror)."
    )


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
