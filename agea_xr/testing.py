"""Synthetic datasets in the real IBL format, for tests, benchmarks and examples.

:func:`synthetic_values` is a pure function of the experiment position and
the voxel, so a test can compute the expected value of any voxel without
reading the file, and a full-size (4,345-experiment) dataset can be written
chunk by chunk in bounded memory. Values are multiples of 1/8 below 32, exact
in float16, distinct between experiments. ``-1`` (no measurement) comes in
blocks as in real grids (missing sections, an unmeasured outside) plus a
sparse scatter, and the pattern differs between experiments, so that some
voxels are measured in only some experiments.

That data has no structure to recover. :func:`write_planted` writes a release
with a planted signal on the real Allen annotation (the bundled sample's
label): every region of a mapping has its own expression profile across
experiments, experiments come in families that share their region levels (so
similar-gene search has true neighbours to find), voxel noise is added, and
the voxels are missing exactly where the real sample's experiments miss them.
:func:`planted_regions` and :func:`planted_families` give the truth.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from . import layout

__all__ = [
    "lipid_values",
    "merfish_values",
    "planted_families",
    "planted_regions",
    "planted_values",
    "synthetic_genes",
    "synthetic_label",
    "synthetic_values",
    "write_agea_grid",
    "write_lipids",
    "write_merfish",
    "write_planted",
    "write_synthetic",
]


def synthetic_values(start: int, stop: int, *, processed: bool = False) -> np.ndarray:
    """Expression values of experiments ``start:stop`` of the synthetic dataset.

    Parameters
    ----------
    start, stop : int
        Experiment positions.
    processed : bool, default False
        The processed variant: no ``-1`` sentinel, some negative values.

    Returns
    -------
    numpy.ndarray
        float16, shape ``(stop - start, 58, 41, 67)``.
    """
    e = np.arange(start, stop, dtype=np.int64)[:, None, None, None]
    i = np.arange(layout.GRID_SHAPE[0])[None, :, None, None]
    j = np.arange(layout.GRID_SHAPE[1])[None, None, :, None]
    k = np.arange(layout.GRID_SHAPE[2])[None, None, None, :]
    code = (e * 37 + i * 5 + j * 3 + k * 2 + (e % 7) * i * j) % 256
    values = code.astype(np.float32) / 8.0
    if processed:
        return (values - 4.0).astype(layout.RAW_DTYPE)
    # "no measurement" comes in blocks, as in the Allen grids: whole missing sections
    # (3 coronal planes per experiment, at a place that differs between experiments),
    # the outside of an ellipsoidal "brain" in two experiments out of three (so some
    # voxels outside it are measured), and a sparse scatter.
    section = (k - (e * 13) % layout.GRID_SHAPE[2]) % layout.GRID_SHAPE[2] < 3
    outside = ((i - 28.5) / 27) ** 2 + ((j - 19) / 19) ** 2 + ((k - 33) / 32) ** 2 > 1
    scatter = (e + i * 3 + j * 5 + k * 7) % 29 == 0
    missing = section | (outside & (e % 3 != 0)) | scatter
    values[np.broadcast_to(missing, values.shape)] = layout.MISSING
    return values.astype(layout.RAW_DTYPE)


def synthetic_genes(n_experiments: int) -> tuple[np.ndarray, np.ndarray]:
    """Experiment ids and gene symbols of the synthetic table.

    Every third experiment from position 3 on repeats the symbol of the one
    before it, so genes with several experiments exist (``Gene0002`` has
    experiments 2 and 3, ...), and position 1 is ``"Pdyn"``.

    Parameters
    ----------
    n_experiments : int

    Returns
    -------
    ids : numpy.ndarray
        int64 experiment ids (distinct, not sorted).
    genes : numpy.ndarray
        object array of symbols.
    """
    positions = np.arange(n_experiments)
    ids = 70_000_000 + (positions * 400_009) % 1_000_003  # distinct, not in file order
    genes = np.array([f"Gene{p:04d}" for p in positions], dtype=object)
    for p in positions:
        if p >= 3 and p % 3 == 0:
            genes[p] = genes[p - 1]
    if n_experiments > 1:
        genes[1] = "Pdyn"
    return ids.astype(np.int64), genes


def synthetic_label() -> np.ndarray:
    """The label volume of the synthetic dataset: the bundled sample's real one.

    Returns
    -------
    numpy.ndarray
        int16 indices into ``iblatlas.regions.BrainRegions().id``, lateralised.
    """
    from .sample import sample_path

    return np.load(sample_path() / layout.LABEL_FILE)


def write_synthetic(
    folder: str | os.PathLike,
    n_experiments: int = 12,
    *,
    variants: Sequence[str] = ("raw",),
    version: str | None = "2025-03-18",
    image: bool = True,
    chunk: int = 64,
) -> Path:
    """Write a synthetic dataset in the IBL layout.

    Parameters
    ----------
    folder : str or os.PathLike
        Created if needed.
    n_experiments : int, default 12
        Rows of the table and volumes of each binary.
    variants : sequence of {"raw", "processed"}, default ("raw",)
        Which binaries to write.
    version : str or None, default "2025-03-18"
        Name of the ``<version>.version`` marker; None writes none.
    image : bool, default True
        Also write ``image.npy``.
    chunk : int, default 64
        Experiments generated at once (bounds memory for full-size data).

    Returns
    -------
    pathlib.Path
        The folder.

    Examples
    --------
    >>> import tempfile, agea_xr
    >>> folder = write_synthetic(tempfile.mkdtemp(), 4)
    >>> agea_xr.open_dataset(folder).sizes["experiment"]
    4
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ids, genes = synthetic_genes(n_experiments)
    pd.DataFrame({"id": ids.astype(str), "gene": genes}).to_parquet(
        folder / layout.TABLE_FILE, index=False
    )
    for variant in variants:
        with open(folder / layout.binary_file(variant), "wb") as f:
            for start in range(0, n_experiments, chunk):
                stop = min(start + chunk, n_experiments)
                synthetic_values(start, stop, processed=variant == "processed").tofile(f)
    np.save(folder / layout.LABEL_FILE, synthetic_label())
    if image:
        k = np.arange(layout.VOXELS_PER_VOLUME, dtype=np.float32)
        np.save(folder / layout.IMAGE_FILE, (k % 251).reshape(layout.GRID_SHAPE))
    if version:
        (folder / f"{version}{layout.VERSION_SUFFIX}").write_text("")
    return folder


# --- planted signal ------------------------------------------------------------------
def planted_regions(mapping: str = "Cosmos") -> np.ndarray:
    """The planted regions: ``1 .. K`` per brain voxel, 0 outside the brain.

    Parameters
    ----------
    mapping : str, default "Cosmos"
        The iblatlas mapping whose regions carry the planted profiles (``root``,
        the brain voxels it leaves unassigned, is one region too).

    Returns
    -------
    numpy.ndarray
        int64 ``(ml, dv, ap)``: the codes follow the order of the regions' Allen ids.
    """
    from .regions import region_ids

    ids = region_ids(synthetic_label(), mapping)
    unique = np.unique(ids[ids != 0])
    codes = np.searchsorted(unique, ids) + 1
    return np.where(ids != 0, codes, 0).astype(np.int64)


def planted_families(n_experiments: int, n_families: int = 12) -> np.ndarray:
    """Family of every experiment of a planted release: ``position % n_families``.

    Experiments of one family share their region levels (up to a gain and a
    small per-experiment change): they are each other's similar genes.
    """
    return np.arange(n_experiments) % n_families


@functools.cache
def _real_missing() -> np.ndarray:
    """Where the bundled sample's experiments miss voxels, ``(2, ml, dv, ap)`` booleans."""
    from .sample import sample_path

    raw = np.fromfile(sample_path() / layout.VARIANTS["raw"], dtype=layout.RAW_DTYPE)
    return (raw == layout.MISSING).reshape(-1, *layout.GRID_SHAPE)


def planted_values(
    start: int,
    stop: int,
    *,
    mapping: str = "Cosmos",
    n_families: int = 12,
    noise: float = 0.25,
    seed: int = 0,
) -> np.ndarray:
    """Expression values of experiments ``start:stop`` of a planted release.

    Experiment ``e`` of family ``f`` (:func:`planted_families`) has in every
    region ``r`` the level ``L[f, r] * g_e * (1 + 0.1 d[e, r])``, ``L`` log-normal
    (sigma 1) per family and region, ``g_e`` a log-normal gain (sigma 0.3),
    ``d`` standard normal; every voxel adds Gaussian noise of standard
    deviation ``noise`` times the experiment's mean level, and values are
    clipped at 0. Outside the brain the level is 0. Voxels are missing (-1)
    where the real sample's experiment ``e % 2`` is. Every experiment is drawn
    from its own seeded generator, so any range can be made alone.

    Parameters
    ----------
    start, stop : int
        Experiment positions.
    mapping : str, default "Cosmos"
        See :func:`planted_regions`.
    n_families : int, default 12
    noise : float, default 0.25
    seed : int, default 0

    Returns
    -------
    numpy.ndarray
        float16 ``(stop - start, 58, 41, 67)``.
    """
    regions = planted_regions(mapping).reshape(-1)
    n_regions = int(regions.max())
    levels = np.zeros((n_families, n_regions + 1))
    for f in range(n_families):
        rng = np.random.default_rng([seed, 1, f])
        levels[f, 1:] = rng.lognormal(0.0, 1.0, n_regions)
    missing = _real_missing().reshape(2, -1)
    out = np.empty((stop - start, regions.size), dtype=layout.RAW_DTYPE)
    for i, e in enumerate(range(start, stop)):
        rng = np.random.default_rng([seed, 2, e])
        gain = rng.lognormal(0.0, 0.3)
        level = levels[e % n_families] * gain * (1 + 0.1 * rng.standard_normal(n_regions + 1))
        level[0] = 0.0
        brain = regions != 0
        scale = noise * level[1:].mean()
        values = level[regions] + np.where(brain, rng.normal(0.0, scale, regions.size), 0.0)
        values = np.maximum(values, 0.0)
        values[missing[e % 2]] = layout.MISSING
        out[i] = values.astype(layout.RAW_DTYPE)
    return out.reshape(stop - start, *layout.GRID_SHAPE)


def write_planted(
    folder: str | os.PathLike,
    n_experiments: int = 48,
    *,
    mapping: str = "Cosmos",
    n_families: int = 12,
    noise: float = 0.25,
    seed: int = 0,
    chunk: int = 64,
) -> Path:
    """Write a release with a planted signal (raw variant) in the IBL layout.

    Values from :func:`planted_values`, gene table from :func:`synthetic_genes`
    (so ``Pdyn`` is experiment 1), the real label volume, a version marker.

    Parameters
    ----------
    folder : str or os.PathLike
        Created if needed.
    n_experiments : int, default 48
    mapping, n_families, noise, seed
        See :func:`planted_values`.
    chunk : int, default 64
        Experiments generated at once.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile, agea_xr
    >>> ds = agea_xr.open_dataset(write_planted(tempfile.mkdtemp(), 6))
    >>> ds.sizes["experiment"], int(planted_regions().max())
    (6, 11)
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ids, genes = synthetic_genes(n_experiments)
    pd.DataFrame({"id": ids.astype(str), "gene": genes}).to_parquet(
        folder / layout.TABLE_FILE, index=False
    )
    with open(folder / layout.binary_file("raw"), "wb") as f:
        for start in range(0, n_experiments, chunk):
            stop = min(start + chunk, n_experiments)
            options = {"mapping": mapping, "n_families": n_families, "noise": noise}
            planted_values(start, stop, seed=seed, **options).tofile(f)
    np.save(folder / layout.LABEL_FILE, synthetic_label())
    (folder / f"2025-03-18{layout.VERSION_SUFFIX}").write_text("")
    return folder


# --- MERFISH cell types and lipids, in iblatlas' layout ------------------------------
#: Types per level of the synthetic taxonomy (row 0 of each table is the empty one).
SYNTHETIC_TYPES = {"class": 8, "subclass": 12, "supertype": 16, "cluster": 20}
#: Reliabilities of the 10 synthetic lipids (0.6 keeps 7, 0.6 itself included).
SYNTHETIC_RELIABILITY = (0.95, 0.4, 0.88, 0.62, 0.71, 0.55, 0.9, 0.6, 0.3, 0.8)


def _type_names(level: str) -> list[str]:
    from .volumes_layout import NON_NEURONAL_CLASSES

    n = SYNTHETIC_TYPES[level]
    if level == "class":
        return ["01 IT-ET Glut", "02 NP-CT-L6b Glut", "03 OB-CR Glut", *NON_NEURONAL_CLASSES]
    names = [f"{i:04d} {level[:3].title()}{i}" for i in range(1, n + 1)]
    if level == "subclass":
        names[6] = ""  # an id without a type: an empty row, as in the real tables
    return names


def _rgba(i: int) -> tuple[str, int]:
    r, g, b = (i * 53) % 256, (i * 97) % 256, (i * 151) % 256
    rgba = np.array([r, g, b, 255], dtype=np.uint8).view(np.uint32)[0]
    return f"#{r:02x}{g:02x}{b:02x}", int(rgba)


def merfish_values(level: str) -> np.ndarray:
    """Raw synthetic cell counts of a level: float16 ``(types, 58, 41, 67)``.

    Exact multiples of 1/4; NaN outside the brain (the real label's 0 voxels) in
    every type, in a 3x3x3 block of in-brain voxels in every type (so the processed
    variant draws its Dirichlet noise), and scattered in every third type.
    """
    n = SYNTHETIC_TYPES[level]
    t = np.arange(n)[:, None, None, None]
    i = np.arange(layout.GRID_SHAPE[0])[None, :, None, None]
    j = np.arange(layout.GRID_SHAPE[1])[None, None, :, None]
    k = np.arange(layout.GRID_SHAPE[2])[None, None, None, :]
    values = (((t * 7 + i * 3 + j * 5 + k * 11 + t * i) % 23) / 4.0).astype(np.float32)
    values[np.broadcast_to((t % 3 == 0) & ((i + j + k) % 13 == 0), values.shape)] = np.nan
    outside = synthetic_label() == 0
    values[:, outside] = np.nan
    values[:, 30:33, 10:13, 30:33] = np.nan
    return values.astype(np.float16)


def write_merfish(
    folder: str | os.PathLike,
    levels: Sequence[str] = ("class", "subclass", "supertype", "cluster"),
) -> Path:
    """Write a small MERFISH release in iblatlas' layout (``atlas/merfish``).

    For each level: ``merfish_{level}.npy`` (:func:`merfish_values`) and
    ``merfish_{level}_labels.npy`` (int64 ids 1..n); and all four taxonomy tables
    (row 0 empty; a 5-class non-neuronal tail as in the real taxonomy; subclass 7 an
    empty row), with the parent level's names, colours and RGBA integers.

    Parameters
    ----------
    folder : str or os.PathLike
        Created if absent.
    levels : sequence of str
        Levels whose volumes are written (:data:`SYNTHETIC_TYPES` types each).

    Returns
    -------
    pathlib.Path
    """
    from .volumes_layout import PARENT, TAXONOMY_TABLE, labels_file, volume_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for level, table_name in TAXONOMY_TABLE.items():
        names = _type_names(level)
        colours = [_rgba(i) for i in range(1, len(names) + 1)]
        table = pd.DataFrame(
            {
                level: ["", *names],
                f"{level}_color": ["", *(c[0] for c in colours)],
                f"{level}_rgba": np.array([0, *(c[1] for c in colours)], dtype=np.uint32),
            }
        )
        parent = PARENT[level]
        if parent is not None:
            above = [n for n in _type_names(parent) if n]
            table[parent] = [
                "",
                *(above[p % len(above)] if n else "" for p, n in enumerate(names)),
            ]
        if level == "cluster":
            table["cluster_alias"] = np.arange(len(table), dtype=np.int64)
        table.index.name = f"{level}_id"
        table.to_parquet(folder / table_name)
    for level in levels:
        np.save(folder / volume_file(level), merfish_values(level))
        ids = np.arange(1, SYNTHETIC_TYPES[level] + 1, dtype=np.int64)
        np.save(folder / labels_file(level), ids)
    return folder


def lipid_values(n: int = len(SYNTHETIC_RELIABILITY)) -> np.ndarray:
    """Synthetic lipid log intensities: float32 ``(n, 58, 41, 67)``, NaN outside the
    brain and in the 4 most anterior planes (the unsampled olfactory bulb)."""
    t = np.arange(n)[:, None, None, None]
    i = np.arange(layout.GRID_SHAPE[0])[None, :, None, None]
    j = np.arange(layout.GRID_SHAPE[1])[None, None, :, None]
    k = np.arange(layout.GRID_SHAPE[2])[None, None, None, :]
    values = (-4.0 + ((t * 5 + i + 2 * j + 3 * k + t * j) % 29) / 7.0).astype(np.float32)
    values[:, synthetic_label() == 0] = np.nan
    values[:, :, :, :4] = np.nan
    return values


def write_lipids(folder: str | os.PathLike) -> Path:
    """Write a small lipid release in iblatlas' layout (``atlas/lipids``).

    ``lipid_volumes.npy`` (:func:`lipid_values`) and ``lipids.pqt`` (10 rows:
    ``lipid``, ``reliability`` :data:`SYNTHETIC_RELIABILITY`, ``sex_log_ratio``,
    ``sex_zscore``).

    Returns
    -------
    pathlib.Path
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n = len(SYNTHETIC_RELIABILITY)
    np.save(folder / "lipid_volumes.npy", lipid_values(n))
    pd.DataFrame(
        {
            "lipid": [f"PC {30 + i}:{i % 4}" for i in range(n)],
            "reliability": np.array(SYNTHETIC_RELIABILITY, dtype=np.float64),
            "sex_log_ratio": np.linspace(-0.2, 0.2, n),
            "sex_zscore": np.linspace(-1.5, 1.5, n),
        }
    ).to_parquet(folder / "lipids.pqt", index=False)
    return folder


def write_agea_grid(folder: str | os.PathLike) -> Path:
    """Write ``label.npy`` (the real label) and ``image.npy`` (zeros): what
    ``iblatlas.genomics.agea.load_atlas`` reads, beside ``merfish/`` and ``lipids/``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / layout.LABEL_FILE, synthetic_label())
    np.save(folder / layout.IMAGE_FILE, np.zeros(layout.GRID_SHAPE, dtype=np.float32))
    return folder
