"""Pictures: a slice of an expression volume in physical units, with region boundaries.

Orientation is that of iblatlas' ``BrainAtlas.plot_cslice``/``plot_sslice``/
``plot_hslice``: coronal sections show ML across (left hemisphere on the left)
and DV up (dorsal up); sagittal sections show AP across with anterior on the
left and dorsal up; horizontal sections show ML across and AP up (anterior up).
Axes are in millimetres from bregma and drawn to scale, with voxel edges (not
centres) at the image border. matplotlib is imported inside the functions.
"""

from __future__ import annotations

from ._overview import OVERVIEW_PLANES, plot_overview
from ._slice import FIGSIZE, PLANES, boundary_segments, plot_slice

__all__ = [
    "FIGSIZE",
    "OVERVIEW_PLANES",
    "PLANES",
    "boundary_segments",
    "plot_overview",
    "plot_slice",
]
