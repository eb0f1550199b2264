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

__all__ = ["SAMPLE_EXPERIMENTS", "sample_path"]

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
