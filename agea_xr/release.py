"""Read and check the files of a release folder (local path or fsspec URL).

The experiment table, the small label and image volumes, the binary's size and
the ``<date>.version`` marker: each is read here and checked against the facts
of :mod:`agea_xr.layout` before anything builds on it, so that a damaged or
foreign file is named in a clear error instead of a wrong answer later. The
binary itself is only sized here; :mod:`agea_xr.reader` reads it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import layout
from .remote import filesystem, is_url

__all__ = [
    "check_binary",
    "check_label",
    "integer_ids",
    "join",
    "read_label",
    "read_table",
    "read_version",
    "read_volume",
    "text_column",
]


# --- small-file access, local or fsspec -------------------------------------------
def join(folder: str, name: str) -> str:
    return f"{folder.rstrip('/')}/{name}" if is_url(folder) else os.path.join(folder, name)


def _fs(folder: str, storage_options: Mapping[str, Any] | None):
    return filesystem(folder, storage_options)


def _exists(folder: str, name: str, storage_options: Mapping[str, Any] | None) -> bool:
    if not is_url(folder):
        return os.path.isfile(os.path.join(folder, name))
    fs, path = _fs(folder, storage_options)
    return fs.isfile(f"{path.rstrip('/')}/{name}")


def _read_bytes(folder: str, name: str, storage_options: Mapping[str, Any] | None) -> bytes:
    if not is_url(folder):
        return Path(folder, name).read_bytes()
    fs, path = _fs(folder, storage_options)
    return fs.cat_file(f"{path.rstrip('/')}/{name}")


def _size(folder: str, name: str, storage_options: Mapping[str, Any] | None) -> int:
    if not is_url(folder):
        return os.path.getsize(os.path.join(folder, name))
    fs, path = _fs(folder, storage_options)
    return int(fs.size(f"{path.rstrip('/')}/{name}"))


def read_version(
    folder: str | os.PathLike, storage_options: Mapping[str, Any] | None = None
) -> str:
    """The release version of a folder: its newest ``<date>.version`` marker.

    Parameters
    ----------
    folder : str or os.PathLike
        Release folder (local path or fsspec URL).
    storage_options : mapping, optional
        fsspec options for URLs.

    Returns
    -------
    str
        The date of the marker, or ``"unknown"`` when there is none (see
        :func:`agea_xr.layout.newest_version`).
    """
    folder = str(folder)
    suffix = layout.VERSION_SUFFIX
    if not is_url(folder):
        names = [p.name for p in Path(folder).glob(f"*{suffix}")]
    else:
        fs, path = _fs(folder, storage_options)
        names = [p.rsplit("/", 1)[-1] for p in fs.glob(f"{path.rstrip('/')}/*{suffix}")]
    return layout.newest_version(names)


# --- columns ------------------------------------------------------------------------
_INT64 = np.iinfo(np.int64)


def integer_ids(column: Any, what: str) -> np.ndarray:
    """Whole-number ids of a table column, as int64; never truncated nor wrapped.

    Parameters
    ----------
    column : pandas.Series or sequence
        Integers, whole floats, or text holding them (``"71717084"``,
        ``"71717084.0"``).
    what : str
        The column, for messages (e.g. ``"The 'id' column of 'x.pqt'"``).

    Returns
    -------
    numpy.ndarray
        int64.

    Raises
    ------
    ValueError
        Naming the row and value, for a value that is empty, not a number, not
        a whole number, or beyond int64.

    Examples
    --------
    >>> integer_ids(["71717084", 74272479.0], "ids")
    array([71717084, 74272479])
    >>> integer_ids(["71717084.5"], "ids")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ids must hold whole-number ... '71717084.5', which is not a whole number...
    """
    dtype = getattr(column, "dtype", None)
    if (
        dtype is not None
        and pd.api.types.is_integer_dtype(dtype)
        and not (pd.api.types.is_extension_array_dtype(dtype) and column.isna().any())
    ):
        # the published table: an integer column, taken whole (uint64 checked for range)
        values = np.asarray(column)
        if values.dtype.kind == "u" and values.size and values.max() > _INT64.max:
            row = int(np.argmax(values > _INT64.max))
            raise ValueError(
                f"{what} must hold whole-number experiment ids: row {row} holds "
                f"{values[row]!r}, which is beyond the 64-bit integer range. Fix the table "
                "or download it again."
            )
        return values.astype(np.int64)
    if isinstance(column, pd.Series) and pd.api.types.is_string_dtype(column.dtype):
        # the published table holds the ids as text: plain digits (at most 18 always fit
        # int64) convert at once; anything else gets the row-by-row check and its message
        text = column.str.strip()
        if text.notna().all() and text.str.fullmatch(r"[+-]?\d{1,18}").all():
            return text.to_numpy(dtype=object).astype(np.int64)
    values = list(column)
    out = np.empty(len(values), dtype=np.int64)
    for row, value in enumerate(values):
        problem = None
        if isinstance(value, bytes):
            value = value.decode("ascii", errors="replace")
        if isinstance(value, (bool, np.bool_)) or value is None:
            problem = "not a number"
        elif isinstance(value, (int, np.integer)):
            number = int(value)
        else:
            text = str(value).strip()
            try:
                number = int(text)
            except ValueError:
                try:
                    real = float(text)
                except ValueError:
                    real = None
                if real is None or not np.isfinite(real):
                    problem = "not a number"
                elif real != int(real):
                    problem = "not a whole number"
                else:
                    number = int(real)
        if problem is None and not _INT64.min <= number <= _INT64.max:
            problem = "beyond the 64-bit integer range"
        if problem is not None:
            raise ValueError(
                f"{what} must hold whole-number experiment ids: row {row} holds {value!r}, "
                f"which is {problem}. Fix the table or download it again."
            )
        out[row] = number
    return out


def text_column(column: pd.Series, what: str) -> pd.Series:
    """A column of text, with bytes decoded as UTF-8 (missing values kept as missing).

    Parameters
    ----------
    column : pandas.Series
    what : str
        The column, for messages.

    Returns
    -------
    pandas.Series
        Of ``str`` (object dtype) and missing values.

    Raises
    ------
    ValueError
        Naming the first row whose bytes are not UTF-8.

    Examples
    --------
    >>> import pandas as pd
    >>> text_column(pd.Series([b"Pdyn", "Nrp1"]), "genes").tolist()
    ['Pdyn', 'Nrp1']
    >>> text_column(pd.Series([b"Pdyn", b"N\\xe9"]), "genes")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: genes is not UTF-8 text: row 1 holds b'N\\xe9' (...). Save the table ...
    """
    values = column.to_numpy(dtype=object)
    if column.dtype != object or not any(isinstance(v, (bytes, bytearray)) for v in values):
        # a string column (what parquet text reads as) cannot hold bytes
        return pd.Series(values, index=column.index, dtype=object)
    out = values.copy()
    for row, value in enumerate(values):
        if isinstance(value, (bytes, bytearray)):
            try:
                out[row] = bytes(value).decode("utf-8")
            except UnicodeDecodeError as err:
                raise ValueError(
                    f"{what} is not UTF-8 text: row {row} holds {bytes(value)!r} ({err}). "
                    "Save the table with UTF-8 text."
                ) from None
    return pd.Series(out, index=column.index, dtype=object)


# --- the files --------------------------------------------------------------------
def read_table(
    folder: str | os.PathLike, storage_options: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Read and check the experiment table (``gene-expression.pqt``).

    Parameters
    ----------
    folder : str or os.PathLike
        Release folder (local path or fsspec URL).
    storage_options : mapping, optional
        fsspec options for URLs.

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment`` (int64 Allen experiment id) and ``gene`` (str), one
        row per volume of the binary, in file order.

    Raises
    ------
    FileNotFoundError
        If the table is missing.
    ValueError
        If it is not parquet, lacks the ``id``/``gene`` columns, its ids are
        not unique whole numbers within int64 (``"71717084.5"`` is refused, not
        truncated), or a gene symbol is not UTF-8 text.
    """
    folder = str(folder)
    name = layout.TABLE_FILE
    if not _exists(folder, name, storage_options):
        raise FileNotFoundError(
            f"No experiment table {name!r} in {folder!r}. An AGEA folder holds "
            f"{', '.join(layout.FILES[:3])} and {layout.VARIANTS['raw']}; get one with "
            "agea_xr.download() or use agea_xr.open_sample() for the bundled sample."
        )
    try:
        table = pd.read_parquet(io.BytesIO(_read_bytes(folder, name, storage_options)))
    except Exception as err:  # pyarrow raises several types for bad files
        raise ValueError(
            f"Cannot read {join(folder, name)!r} as parquet ({err}). The file is damaged "
            "or not the AGEA table: download it again."
        ) from err
    missing = {layout.TABLE_ID_COLUMN, layout.TABLE_GENE_COLUMN} - set(table.columns)
    if missing:
        raise ValueError(
            f"{join(folder, name)!r} lacks the column(s) {sorted(missing)}: it has "
            f"{list(table.columns)}, the AGEA table has 'id' and 'gene'."
        )
    ids = pd.Series(
        integer_ids(table[layout.TABLE_ID_COLUMN], f"The 'id' column of {join(folder, name)!r}")
    )
    duplicated = ids[ids.duplicated()].unique()
    if duplicated.size:
        raise ValueError(
            f"Experiment ids repeat in {join(folder, name)!r}: {list(duplicated[:5])}. "
            "Each row must describe one distinct experiment."
        )
    symbols = text_column(
        table[layout.TABLE_GENE_COLUMN], f"The 'gene' column of {join(folder, name)!r}"
    )
    blank = symbols.isna().to_numpy() | (symbols.astype(str).str.strip() == "").to_numpy()
    if blank.any():
        rows = np.flatnonzero(blank)
        raise ValueError(
            f"{join(folder, name)!r} has no gene symbol in row(s) {rows[:5].tolist()} "
            f"(experiment id(s) {ids.iloc[rows[:5]].tolist()}): every experiment needs one. "
            "Fix the table or download it again."
        )
    genes = symbols.astype(str).to_numpy(dtype=object)
    return pd.DataFrame({"experiment": ids.to_numpy(), "gene": genes})


def read_volume(
    folder: str | os.PathLike,
    name: str,
    storage_options: Mapping[str, Any] | None = None,
    *,
    kind: str = "f",
) -> np.ndarray | None:
    """Read one small ``(ml, dv, ap)`` ``.npy`` volume, or None if absent.

    Parameters
    ----------
    folder : str or os.PathLike
        Release folder (local path or fsspec URL).
    name : str
        File name (``label.npy`` or ``image.npy``).
    storage_options : mapping, optional
        fsspec options for URLs.
    kind : {"i", "f"}
        Expected dtype kind: ``"i"`` for integer volumes, ``"f"`` for real ones.

    Returns
    -------
    numpy.ndarray or None

    Raises
    ------
    ValueError
        If the file is empty, damaged, or not a ``.npy`` array of shape
        (58, 41, 67) and the expected kind.
    """
    folder = str(folder)
    if not _exists(folder, name, storage_options):
        return None
    where = join(folder, name)
    try:
        array = np.load(io.BytesIO(_read_bytes(folder, name, storage_options)), allow_pickle=False)
    except (ValueError, EOFError, OSError) as err:
        # EOFError: an empty file; ValueError/OSError: a damaged or foreign one
        what = "it is empty" if isinstance(err, EOFError) else f"{err}"
        raise ValueError(
            f"Cannot read {where!r} as a .npy array ({what}). The file is damaged or "
            "incomplete: download it again, or remove it to open the release without it."
        ) from err
    if array.shape != layout.GRID_SHAPE:
        raise ValueError(
            f"{where!r} has shape {array.shape}, the AGEA grid is {layout.GRID_SHAPE} "
            "(ml, dv, ap): it belongs to another atlas or resolution. Remove it or replace "
            "it with the file of the release."
        )
    kinds = "iu" if kind == "i" else "fiu"
    if array.dtype.kind not in kinds:
        raise ValueError(
            f"{where!r} has dtype {array.dtype}, expected "
            f"{'integer region indices' if kind == 'i' else 'real values'}."
        )
    return array


def check_label(label: np.ndarray, where: str) -> np.ndarray:
    """Refuse a label volume whose values are not indices into iblatlas' BrainRegions.

    The one range check of label values (``label.npy`` at open, a ``BrainAtlas``'s
    label, a label coordinate attached by hand): ``0 <= label < N_BRAIN_REGIONS``.
    Without it numpy would wrap a negative index to the end of the region table and
    name an unrelated region, or raise a bare IndexError later.

    Parameters
    ----------
    label : numpy.ndarray
        Integer label volume.
    where : str
        What the label is (a file path, "the label coordinate"), for the message.

    Returns
    -------
    numpy.ndarray
        ``label``, unchanged.

    Raises
    ------
    ValueError
        Naming ``where``, the range found, the valid range and, when the values look
        like Allen structure ids (values beyond the table, a common mix-up), the remedy
        :func:`agea_xr.regions.label_from_allen_ids`.

    Examples
    --------
    >>> check_label(np.array([0, 5, 2654]), "label.npy").tolist()
    [0, 5, 2654]
    >>> check_label(np.array([0, 672, 484682470]), "label.npy")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: label.npy holds values 0 .. 484682470, ... agea_xr.regions.label_from_allen_ids...
    """
    n = layout.N_BRAIN_REGIONS
    values = np.asarray(label)
    if values.size == 0:
        return label
    lo, hi = int(values.min()), int(values.max())
    if lo >= 0 and hi < n:
        return label
    bad = int(np.count_nonzero((values < 0) | (values >= n)))
    message = (
        f"{where} holds values {lo} .. {hi}, but a label volume holds indices into iblatlas "
        f"BrainRegions, 0 .. {n - 1}: {bad} voxel(s) lie outside."
    )
    if hi >= n:
        message += (
            f" Values this large look like Allen structure ids (e.g. {hi}), not indices: "
            "convert such a volume with agea_xr.regions.label_from_allen_ids(volume), or "
            "replace the file with the release's label.npy."
        )
    else:
        message += (
            " Negative values are not indices (numpy would read them from the end of the "
            "region table): replace the file with the release's label.npy."
        )
    raise ValueError(message)


def read_label(
    folder: str | os.PathLike, storage_options: Mapping[str, Any] | None = None
) -> np.ndarray | None:
    """Read ``label.npy``: indices into ``iblatlas.regions.BrainRegions().id``.

    Parameters
    ----------
    folder : str or os.PathLike
        Release folder.
    storage_options : mapping, optional
        fsspec options for URLs.

    Returns
    -------
    numpy.ndarray or None
        Integer volume of shape (58, 41, 67), or None when the file is absent.

    Raises
    ------
    ValueError
        As :func:`read_volume`, and for values that are not BrainRegions indices
        (:func:`check_label`: negative, or Allen structure ids instead of indices).
    """
    label = read_volume(folder, layout.LABEL_FILE, storage_options, kind="i")
    if label is not None:
        check_label(label, repr(join(str(folder), layout.LABEL_FILE)))
    return label


def check_binary(
    folder: str, variant: str, n_rows: int, storage_options: Mapping[str, Any] | None = None
) -> str:
    """Check that a variant's binary exists and holds exactly ``n_rows`` volumes.

    Parameters
    ----------
    folder : str
        Release folder (local path or fsspec URL).
    variant : {"raw", "processed"}
        Which binary.
    n_rows : int
        Experiments of the table.
    storage_options : mapping, optional
        fsspec options for URLs.

    Returns
    -------
    str
        The binary's path or URL.

    Raises
    ------
    FileNotFoundError
        If the binary is missing (the message says how to download it).
    ValueError
        If its size is not ``n_rows * 318,652`` bytes (checked before any read).
    """
    name = layout.binary_file(variant)
    where = join(folder, name)
    if not _exists(folder, name, storage_options):
        other = "processed" if variant == "raw" else "raw"
        raise FileNotFoundError(
            f"No {variant} expression binary {name!r} in {folder!r}. Download it with "
            f"agea_xr.download(variant={variant!r}) (or `agea-xr download --variant "
            f"{variant}`), or open variant={other!r} if that is the one you have."
        )
    expected = n_rows * layout.VOLUME_BYTES
    actual = _size(folder, name, storage_options)
    if actual != expected:
        whole, rest = divmod(actual, layout.VOLUME_BYTES)
        raise ValueError(
            f"{where!r} has {actual:,} bytes, but its table lists {n_rows:,} experiments, "
            f"which need exactly {expected:,} bytes ({n_rows:,} x {layout.VOLUME_BYTES:,}; "
            f"{actual - expected:+,} bytes; the file holds {whole:,} whole volumes and "
            f"{rest:,} bytes more). The download is incomplete or the "
            "table belongs to another release: download the binary again "
            "(agea_xr.download(check=True))."
        )
    return where
