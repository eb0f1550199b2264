"""Build an AGEA dataset from Allen grid downloads: the IBL layout, or Zarr.

The Allen Institute serves each ISH experiment's 200 µm grid as a zip
(``grid_data/download/<experiment id>``) holding ``energy`` (and sometimes
``density`` and ``intensity``) MetaImage volumes and ``data_set.xml``.
:func:`ingest` turns a set of such zips into a folder in the IBL layout
(``gene-expression.bin`` + ``gene-expression.pqt``, and ``label.npy`` when the
grid annotation zip is among them) that :func:`agea_xr.open_dataset` opens,
or into a compact Zarr store (:func:`agea_xr.export`).

Values are stored as float16, exactly as IBL converted the Allen float32 grids
for its release; ``-1`` (no measurement) is kept. Sagittal experiments cover
the left hemisphere only: their other voxels are ``-1`` in the download and
stay so (NaN once decoded). Ingest checks this and warns (:class:`UserWarning`,
naming the experiment and the count) about a sagittal grid with measured values
in the right hemisphere (``i_ml > 28``, x > 0); the values are kept as they are.

``data_set.xml`` names no gene: symbols come from a table the caller passes,
else from the packaged table of the 4,345 coronal experiments of the atlas
(:func:`gene_table`). That Allen listing writes 13 symbols with a trailing
``*`` (e.g. ``5330421K23Rik*``); the ``*`` is not part of the MGI symbol and is
removed, so ``ds.sel(gene="5330421K23Rik")`` finds them (no symbol collides
once it is removed).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from . import layout
from .release import integer_ids, text_column

__all__ = ["MEASURES", "gene_table", "ingest", "right_hemisphere_voxels"]

#: Volumes of an Allen grid download, in order; ``energy`` is the expression of
#: the IBL release (``gene-expression.bin``).
MEASURES = ("energy", "density", "intensity")
#: Packaged table of the coronal experiments of the atlas (experiment_id, gene).
CORONAL_TABLE = "coronal_experiments.csv"
_ID_COLUMNS = ("experiment_id", "experiment", "id", "section_data_set_id")
_GENE_COLUMNS = ("gene", "gene_symbol", "symbol", "acronym")


def gene_table(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Experiment ids and gene symbols, from a user table or the packaged one.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A CSV, TSV or parquet table with an experiment-id column (``experiment_id``,
        ``experiment``, ``id`` or ``section_data_set_id``) and a symbol column
        (``gene``, ``gene_symbol``, ``symbol`` or ``acronym``). None: the
        packaged table of the 4,345 coronal experiments of the atlas.

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment`` (int64, unique) and ``gene`` (str, trailing ``*``
        removed).

    Raises
    ------
    FileNotFoundError
        If the table does not exist.
    ValueError
        If it lacks the columns, is not UTF-8 text, or an id is not a whole
        number within int64 or repeats with different symbols.

    Examples
    --------
    >>> table = gene_table()
    >>> len(table), table["gene"].nunique()
    (4345, 4082)
    >>> table.set_index("experiment").loc[75043138, "gene"]  # '5330421K23Rik*' in the listing
    '5330421K23Rik'
    """
    if path is None:
        source = resources.files("agea_xr") / "data" / CORONAL_TABLE
        where = f"the packaged {CORONAL_TABLE}"
        with source.open("rb") as f:
            raw = pd.read_csv(f, dtype=str)
    else:
        where = repr(str(path))
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Gene table {str(path)!r} does not exist.")
        try:
            if path.suffix.lower() in (".pqt", ".parquet"):
                raw = pd.read_parquet(path)
            else:
                raw = pd.read_csv(path, sep=None, engine="python", dtype=str)
        except UnicodeDecodeError as err:
            raise ValueError(
                f"The gene table {where} is not UTF-8 text ({err}): save it as UTF-8 "
                "(e.g. 'Save as CSV UTF-8' in a spreadsheet)."
            ) from None
    columns = {c.strip().lower(): c for c in raw.columns}
    id_col = next((columns[c] for c in _ID_COLUMNS if c in columns), None)
    gene_col = next((columns[c] for c in _GENE_COLUMNS if c in columns), None)
    if id_col is None or gene_col is None:
        raise ValueError(
            f"The gene table {where} has columns {list(raw.columns)}; it needs an experiment "
            f"id column (one of {list(_ID_COLUMNS)}) and a symbol column (one of "
            f"{list(_GENE_COLUMNS)})."
        )
    ids = integer_ids(raw[id_col], f"The {id_col!r} column of the gene table {where}")
    genes = text_column(raw[gene_col], f"The {gene_col!r} column of the gene table {where}")
    genes = genes.astype(str).str.strip().str.rstrip("*").str.strip()
    table = pd.DataFrame({"experiment": ids, "gene": genes.to_numpy(dtype=object)})
    table = table.drop_duplicates()
    clash = table["experiment"][table["experiment"].duplicated()].unique()
    if clash.size:
        raise ValueError(
            f"The gene table {where} gives several symbols to experiment(s) "
            f"{clash[:5].tolist()}: keep one row per experiment."
        )
    return table.reset_index(drop=True)


def right_hemisphere_voxels(volume: np.ndarray) -> int:
    """The number of measured voxels of a grid in the right hemisphere (``i_ml > 28``).

    Allen sagittal experiments cover the left hemisphere only, so for them this
    should be 0. Measured means neither ``-1`` (the Allen "no measurement") nor NaN.

    Parameters
    ----------
    volume : numpy.ndarray
        A (58, 41, 67) (ml, dv, ap) grid.

    Returns
    -------
    int

    Examples
    --------
    >>> import numpy as np
    >>> grid = np.full((58, 41, 67), -1.0, dtype=np.float32)
    >>> grid[:29] = 0.5  # the left hemisphere, x < 0
    >>> right_hemisphere_voxels(grid)
    0
    >>> grid[40, 3, 5] = 0.0  # a measured zero on the right
    >>> right_hemisphere_voxels(grid)
    1
    """
    right = volume[layout.LEFT_ML_MAX_INDEX + 1 :]
    return int(np.count_nonzero((right != layout.MISSING) & ~np.isnan(right)))


def _check_sagittal(grid, path: Path) -> None:
    """Warn if a sagittal grid has measured values in the right hemisphere."""
    counts = {m: right_hemisphere_voxels(v) for m, v in grid.volumes.items()}
    counts = {m: n for m, n in counts.items() if n}
    if counts:
        found = ", ".join(f"{n:,} {m}" for m, n in counts.items())
        warnings.warn(
            f"Sagittal experiment {grid.experiment_id} ({path.name}) has measured values in "
            f"the right hemisphere (i_ml > {layout.LEFT_ML_MAX_INDEX}, x > 0): {found} "
            "voxel(s), where Allen sagittal grids cover the left hemisphere only. They are "
            "kept as they are; check the download (or its plane of section) if that is "
            "unexpected.",
            UserWarning,
            stacklevel=4,
        )


def _is_annotation(zip_path: Path) -> bool:
    try:
        with zipfile.ZipFile(zip_path) as zf:
            return any(Path(n).name == "gridAnnotation.mhd" for n in zf.namelist())
    except zipfile.BadZipFile:
        return False


def _measures_in(zip_path: Path) -> set[str]:
    try:
        with zipfile.ZipFile(zip_path) as zf:
            names = {Path(n).name for n in zf.namelist()}
    except zipfile.BadZipFile:
        return set()  # read_grid explains
    return {m for m in MEASURES if f"{m}.mhd" in names}


def _check_zips(zips: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    if isinstance(zips, (str, bytes, os.PathLike)):
        zips = [os.fsdecode(zips)]  # one zip, not the characters of its path
    paths = [Path(z) for z in zips]
    if not paths:
        raise ValueError("No Allen grid zips given: pass one or more *_200um.zip downloads.")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"These Allen grid downloads do not exist: {missing}.")
    return paths


def _check_output(paths: list[Path], out: Path) -> None:
    """Refuse an output that is, or holds, one of the input zips (overwrite would delete it)."""
    target = out.resolve()
    inside = [str(p) for p in paths if p.resolve() == target or target in p.resolve().parents]
    if inside:
        raise ValueError(
            f"The output {str(out)!r} holds the input zip(s) {inside}: writing it (with "
            "overwrite=True, replacing it) would delete them. Choose an output outside the "
            "folder of the downloads, e.g. a new folder beside it."
        )


def _check_energy(grids: list[Path]) -> None:
    """Refuse grid zips without the energy volume (``?include=density`` downloads)."""
    lacking = {p: _measures_in(p) for p in grids}
    lacking = {p: m for p, m in lacking.items() if m and "energy" not in m}
    if lacking:
        found = "; ".join(f"{p.name!r} ({', '.join(sorted(m))} only)" for p, m in lacking.items())
        raise ValueError(
            f"No energy grid in {found}. The AGEA expression is the Allen expression "
            "energy: download each experiment's grid with the energy volume, "
            "grid_data/download/EXPERIMENT_ID?include=energy (add ,density,intensity for "
            "those too) from the Allen Brain Atlas API, and ingest those zips."
        )


def ingest(
    zips: str | os.PathLike | Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    table: str | os.PathLike | None = None,
    zarr: bool = False,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Build an AGEA dataset (IBL layout, or Zarr) from Allen grid downloads.

    Parameters
    ----------
    zips : str, os.PathLike, or sequence of them
        Allen grid zips of ISH experiments (one path, or a list), coronal or
        sagittal, in the order the experiments should have; each must hold the
        energy volume; the grid annotation zip
        (``P56_Mouse_gridAnnotation.zip``) may be among them and becomes
        ``label.npy`` (lateralised iblatlas indices).
    out : str or os.PathLike
        The folder to create (IBL layout), or with ``zarr=True`` the ``.zarr``
        store. An existing empty folder is used.
    table : str or os.PathLike, optional
        Experiment id -> gene symbol table (see :func:`gene_table`); default: the
        packaged table of the coronal experiments.
    zarr : bool, default False
        Write the compact Zarr form instead: variables ``expression`` (energy)
        and, when present in the zips, ``density`` and ``intensity``.
    overwrite : bool, default False
        Replace an existing non-empty ``out``.
    progress : bool, default False
        Show a progress bar over the zips (on stderr).

    Returns
    -------
    pathlib.Path
        ``out``. The IBL folder holds ``gene-expression.bin`` (energy, float16),
        ``gene-expression.pqt`` (``id``, ``gene``, ``plane``), ``label.npy`` with the
        annotation, and a sub-folder in the same layout for each of ``density``
        and ``intensity`` present in any zip (experiments without it are ``-1``).

    Raises
    ------
    FileNotFoundError
        If a zip or the table does not exist.
    FileExistsError
        If ``out`` exists, is not empty, and ``overwrite`` is False.
    ValueError
        If a zip is not an Allen grid or has no energy volume (a
        ``?include=density`` download), declares members larger than a grid, an
        experiment id is missing or repeated, an experiment has no symbol in the
        table, or ``out`` is or holds one of the zips (nothing is deleted).

    Warns
    -----
    UserWarning
        For a sagittal experiment with measured values in the right hemisphere
        (``i_ml > 28``), which Allen sagittal grids do not cover; they are kept.

    Examples
    --------
    >>> import agea_xr
    >>> folder = agea_xr.ingest(["Pdyn_P56_coronal_71717084_200um.zip"], "pdyn")  # doctest: +SKIP
    >>> agea_xr.open_dataset(folder).gene.values  # doctest: +SKIP
    array(['Pdyn'], dtype=object)
    """
    from ._files import safe_write

    paths = _check_zips(zips)
    out = Path(out)
    _check_output(paths, out)
    if out.is_dir() and not any(out.iterdir()):
        overwrite = True  # an empty folder holds nothing to lose
    annotations = [p for p in paths if _is_annotation(p)]
    grids = [p for p in paths if p not in annotations]
    if len(annotations) > 1:
        raise ValueError(f"Several grid annotation zips given: {[str(a) for a in annotations]}.")
    if not grids:
        raise ValueError("Only the annotation was given: pass the experiments' grid zips too.")
    _check_energy(grids)
    symbols = gene_table(table).set_index("experiment")["gene"]
    # energy always (the IBL binary); density/intensity when any zip has them
    measures = ["energy"] + [m for m in MEASURES[1:] if any(m in _measures_in(p) for p in grids)]
    if out.exists() and not overwrite:
        raise FileExistsError(
            f"{str(out)!r} already exists and is not empty: pass overwrite=True (--overwrite) "
            "to replace it, or choose another name."
        )
    if zarr:
        # build the IBL folder beside the target, then export it compactly
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.ingest-") as tmp:
            folder = Path(tmp) / "agea"
            folder.mkdir()
            _write_folder(folder, grids, annotations, symbols, measures, table, progress)
            _write_zarr(folder, out, measures, overwrite)
        return out
    with safe_write(out, overwrite=overwrite) as tmp:
        tmp.mkdir()
        _write_folder(tmp, grids, annotations, symbols, measures, table, progress)
    return out


def _write_folder(
    folder: Path,
    grids: list[Path],
    annotations: list[Path],
    symbols: pd.Series,
    measures: list[str],
    table: str | os.PathLike | None,
    progress: bool,
) -> None:
    from .allen import read_annotation, read_grid

    targets = {m: folder if m == "energy" else folder / m for m in measures}
    for target in targets.values():
        target.mkdir(exist_ok=True)
    missing_volume = np.full(layout.GRID_SHAPE, layout.MISSING, dtype=layout.RAW_DTYPE)
    rows = []
    with contextlib.ExitStack() as stack:
        files = {
            m: stack.enter_context(open(targets[m] / layout.VARIANTS["raw"], "wb"))
            for m in measures
        }
        iterator: Iterable[Path] = grids
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(grids, desc="ingest", unit="zip")
        for path in iterator:
            grid = read_grid(path)
            if grid.experiment_id is None:
                raise ValueError(
                    f"{str(path)!r} names no experiment: its data_set.xml has no <id> and its "
                    "file name no id. Rename it as the Allen download "
                    "(GENE_P56_PLANE_ID_200um.zip)."
                )
            if _plane(grid.plane) == "sagittal":
                _check_sagittal(grid, path)
            for measure in measures:
                volume = grid.volumes.get(measure)
                data = missing_volume if volume is None else volume.astype(layout.RAW_DTYPE)
                files[measure].write(np.ascontiguousarray(data).tobytes())
            rows.append((grid.experiment_id, _plane(grid.plane), str(path)))
    ids = [r[0] for r in rows]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"Experiment(s) {repeated} are given more than once: pass each zip once.")
    unknown = [(i, src) for i, _, src in rows if i not in symbols.index]
    if unknown:
        where = "the given table" if table is not None else f"the packaged {CORONAL_TABLE}"
        raise ValueError(
            f"No gene symbol for experiment(s) {[i for i, _ in unknown][:10]} in {where} "
            f"(e.g. {unknown[0][1]!r}). Pass a table of experiment_id,gene covering them "
            "(--table), e.g. from the Allen API's SectionDataSet query."
        )
    pqt = pd.DataFrame(
        {
            layout.TABLE_ID_COLUMN: [str(i) for i in ids],
            layout.TABLE_GENE_COLUMN: [symbols.loc[i] for i in ids],
            "plane": [r[1] for r in rows],
        }
    )
    label = None
    if annotations:
        from .regions import label_from_allen_ids

        label = label_from_allen_ids(read_annotation(annotations[0]))
    for target in targets.values():
        pqt.to_parquet(target / layout.TABLE_FILE, index=False)
        if label is not None:
            np.save(target / layout.LABEL_FILE, label)


def _plane(text: str | None) -> str:
    """``coronal``/``sagittal`` from what ``data_set.xml`` or the file name says."""
    text = (text or "").lower()
    for plane in ("coronal", "sagittal"):
        if plane in text:  # e.g. "<plane-of-section><id>2</id><name>sagittal</name>..."
            return plane
    return text or "unknown"


def _write_zarr(folder: Path, out: Path, measures: list[str], overwrite: bool) -> None:
    from .api import open_dataset
    from .conventions import attributes, expression_attributes
    from .export import export

    ds = open_dataset(folder)
    planes = pd.read_parquet(folder / layout.TABLE_FILE)["plane"].to_numpy(dtype=object)
    ds = ds.assign_coords(plane=(layout.EXPERIMENT, planes, attributes("plane")))
    for measure in measures:
        if measure != "energy":
            other = open_dataset(folder / measure)["expression"].variable.copy(deep=False)
            other.attrs = expression_attributes(measure)
            ds[measure] = other
    ds.attrs.update(title="Allen Gene Expression Atlas grids, ingested by agea-xr")
    ds.attrs["source"] = "Allen Mouse Brain Atlas grid downloads"
    ds.attrs.pop("binary", None)
    export(ds, out, "zarr", overwrite=overwrite)
