"""Synthetic datasets in the real IBL format, for tests, benchmarks and examples.

:func:`synthetic_values` is a pure function of the experiment position and
the voxel, so a test can compute the expected value of any voxel without
reading the file, and a full-size (4,345-experiment) dataset can be written
chunk by chunk in bounded memory. Values are multiples of 1/8 below 32, exact
in float16, distinct between experiments. ``-1`` (no measurement) comes in
blocks as in real grids (missing sections, an unmeasured outside) plus a
sparse scatter, and the pattern differs between experiments, so that some
voxels are measured in only some experiments.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from . import layout

__all__ = ["synthetic_genes", "synthetic_label", "synthetic_values", "write_synthetic"]


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
