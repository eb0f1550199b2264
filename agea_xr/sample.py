"""The bundled sample: two real Allen experiments in the IBL layout, offline.

Pdyn (experiment 71717084) and Nrp1 (74272479) from the Allen Mouse Brain Atlas
(P56 coronal ISH, 200 µm energy grids), stored as float16 exactly as the IBL
binary stores them, with a ``label.npy`` made from the Allen grid annotation
(lateralised iblatlas indices). Rebuilt by ``scripts/build_sample.py``.
Data © Allen Institute for Brain Science (https://mouse.brain-map.org).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import xarray as xr

__all__ = ["SAMPLE_EXPERIMENTS", "open_sample", "sample_path"]

#: (experiment id, gene) of the sample, in file order.
SAMPLE_EXPERIMENTS = ((71717084, "Pdyn"), (74272479, "Nrp1"))


def sample_path() -> Path:
    """Folder of the bundled sample (IBL layout).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> sorted(p.name for p in sample_path().iterdir() if not p.name.startswith("."))
    ['README.md', 'gene-expression.bin', 'gene-expression.pqt', 'label.npy']
    """
    return Path(str(resources.files("agea_xr") / "data" / "sample"))


def open_sample(**kwargs: Any) -> xr.Dataset:
    """Open the bundled real Allen sample (Pdyn and Nrp1), offline.

    Parameters
    ----------
    **kwargs
        Passed to :func:`agea_xr.open_dataset` (``chunks``, ``mask``).

    Returns
    -------
    xarray.Dataset
        Two experiments, the grid coordinates and the region ``label`` volume.

    Examples
    --------
    >>> ds = open_sample()
    >>> list(ds.gene.values)
    ['Pdyn', 'Nrp1']
    """
    from .dataset import open_dataset

    variant = kwargs.get("variant", "raw")
    if variant != "raw":
        raise ValueError(
            f"The bundled sample has only the 'raw' variant (the Allen volumes), not "
            f"{variant!r}: open it without variant=, or open a downloaded release "
            "(agea_xr.download(variant='processed')) for IBL's processed volumes."
        )
    return open_dataset(sample_path(), **kwargs)
