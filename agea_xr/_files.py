"""Files written safely: atomic replacement, removal, and local-path checks.

The one owner of "write to a temporary beside the target, then move it into
place": exports, ingest and the cache all write through :func:`safe_write`
(or :func:`remove` what they abandon), so a failed or interrupted write never
leaves a half-written file under the final name nor clobbers an existing one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .remote import is_url

__all__ = ["check_local", "make_folder", "open_new", "remove", "remove_stale", "safe_write"]


def remove(path: Path) -> None:
    """Remove a file or a folder tree if it exists (a link is removed, not followed)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def open_new(path: str | os.PathLike, *, append: bool = False) -> BinaryIO:
    """Open a file for binary writing without ever following a link at ``path``.

    A temporary or partial file must land where it is named, not wherever a link
    planted there points: the file is created exclusively (``O_EXCL``), or, with
    ``append``, opened with ``O_NOFOLLOW``.

    Parameters
    ----------
    path : str or os.PathLike
    append : bool, default False
        Append to an existing regular file (created if absent) instead of creating
        a new one.

    Returns
    -------
    file object
        Opened ``"wb"`` (new) or ``"ab"`` (append).

    Raises
    ------
    OSError
        If ``path`` is a symbolic link (the message names it and its target).
    FileExistsError
        If ``path`` exists and ``append`` is False.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "new.part"
    >>> with open_new(path) as f:
    ...     _ = f.write(b"ab")
    >>> with open_new(path, append=True) as f:
    ...     _ = f.write(b"c")
    >>> path.read_bytes()
    b'abc'
    """
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    flags = os.O_WRONLY | os.O_CREAT | nofollow | getattr(os, "O_BINARY", 0)
    flags |= os.O_APPEND if append else os.O_EXCL
    if os.path.islink(path) and (append or not nofollow):
        raise _link_error(path)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as err:
        if os.path.islink(path):
            raise _link_error(path) from err
        raise
    return os.fdopen(fd, "ab" if append else "wb")


def make_folder(path: str | os.PathLike) -> Path:
    """Create a folder (and its parents) to write into, refusing a link at ``path``.

    Raises
    ------
    OSError
        If ``path`` is a symbolic link (files are never written through one).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> make_folder(pathlib.Path(tempfile.mkdtemp()) / "merfish").is_dir()
    True
    """
    if os.path.islink(path):
        raise _link_error(path)
    Path(path).mkdir(parents=True, exist_ok=True)
    return Path(path)


def _link_error(path: str | os.PathLike) -> OSError:
    return OSError(
        f"{os.fspath(path)!r} is a symbolic link (to {os.readlink(path)!r}): files are "
        "never written through a link. Remove the link and try again."
    )


def check_local(path: str | os.PathLike) -> None:
    """Refuse an fsspec URL where a local path is needed (writes are local)."""
    if is_url(path):
        raise ValueError(
            f"Exports are written to a local path, not {str(path)!r}: export locally, then "
            "upload (e.g. fsspec's put(..., recursive=True)); open_export() reads URLs."
        )


#: What marks the temporary of a write in progress: ``.NAME.partial-PID-TAG``.
_PARTIAL = ".partial-"


def _running(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # another user's process, or cannot tell: keep its file
    return True


def remove_stale(path: str | os.PathLike) -> list[Path]:
    """Remove the temporaries of killed writes to ``path``; return those removed.

    A temporary ``.NAME.partial-PID-TAG`` is stale when process ``PID`` no
    longer runs (a killed export or download); those of running writes are
    kept. Temporaries of earlier versions (``.NAME.partial-TAG``, no PID) are
    removed too.

    Parameters
    ----------
    path : str or os.PathLike
        The final path whose temporaries to look for, beside it.

    Returns
    -------
    list of pathlib.Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / ".x.nc.partial-999999999-0a1b2c3d").write_bytes(b"killed")
    >>> [p.name for p in remove_stale(folder / "x.nc")]
    ['.x.nc.partial-999999999-0a1b2c3d']
    """
    path = Path(path)
    removed = []
    prefix = f".{path.name}{_PARTIAL}"
    try:
        candidates = [p for p in path.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return removed
    for candidate in candidates:
        pid, _, tag = candidate.name[len(prefix) :].partition("-")
        if tag and pid.isdigit() and _running(int(pid)):
            continue
        remove(candidate)
        removed.append(candidate)
    return removed


@contextlib.contextmanager
def safe_write(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Write to a temporary name beside ``path``, then move it into place.

    The body of the ``with`` block writes to the yielded temporary path (a
    file or a folder). On success it replaces ``path`` (atomically for a file;
    a folder is swapped in two renames, the old one removed afterwards); on
    any exception, including ``KeyboardInterrupt``, the temporary is removed
    and ``path`` is left exactly as it was.

    Parameters
    ----------
    path : str or os.PathLike
        The final local path. Its folder must exist.
    overwrite : bool, default False
        Replace an existing ``path``. Checked before anything is written.

    Temporaries left by a write that was killed (``.NAME.partial-PID-TAG``
    beside ``path``, whose process ``PID`` no longer runs) are removed first.

    Yields
    ------
    pathlib.Path
        The temporary path to write to (hidden, in the same folder), named
        ``.NAME.partial-PID-TAG``.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    FileNotFoundError
        If the folder of ``path`` does not exist.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with safe_write(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    check_local(path)
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{str(path)!r} already exists: pass overwrite=True (--overwrite) to replace it, "
            "or choose another name."
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"The folder {str(path.parent)!r} of {str(path)!r} does not exist: create it first."
        )
    remove_stale(path)
    tag = uuid.uuid4().hex[:8]
    tmp = path.with_name(f".{path.name}{_PARTIAL}{os.getpid()}-{tag}")
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"Nothing was written to {str(tmp)!r}.")
        if path.is_dir() and not path.is_symlink():
            old = path.with_name(f".{path.name}.old-{tag}")
            os.replace(path, old)
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old, path)
                raise
            remove(old)
        else:
            if tmp.is_dir() and path.exists():
                remove(path)
            os.replace(tmp, path)
    except BaseException:
        remove(tmp)
        raise
