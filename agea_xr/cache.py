"""The local cache of the AGEA release: where it is and what it holds."""

from __future__ import annotations

import os
from pathlib import Path

from . import layout

__all__ = ["CACHE_ENV", "cache_dir", "cached_source"]

#: Environment variable that overrides the cache folder.
CACHE_ENV = "AGEA_XR_CACHE"


def cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder agea_xr keeps the release in.

    Parameters
    ----------
    cache_dir : str or os.PathLike, optional
        Explicit folder; wins over everything.

    Returns
    -------
    pathlib.Path
        ``cache_dir``, else ``$AGEA_XR_CACHE``, else the per-user cache folder
        (``~/.cache/agea-xr`` on Linux). Not created.
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("agea-xr", appauthor=False))


def cached_source(variant: str = "raw") -> Path:
    """The cache folder, if it holds the table and the binary of ``variant``.

    Parameters
    ----------
    variant : {"raw", "processed"}

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileNotFoundError
        If the cache does not hold that variant.
    """
    folder = cache_dir()
    binary = layout.binary_file(variant)
    if (folder / layout.TABLE_FILE).is_file() and (folder / binary).is_file():
        return folder
    raise FileNotFoundError(
        f"The local cache {str(folder)!r} does not hold the {variant} AGEA release "
        f"({binary}). Download it with agea_xr.download(variant={variant!r}), pass the "
        "folder of an existing copy, or use agea_xr.open_sample() for the bundled sample."
    )
