"""Your own map on the AGEA grid: volumes in the Allen CCFv3 and point sets.

:func:`read_map` reads a volume (NIfTI, NRRD, MetaImage, OME-Zarr, TIFF, numpy) with
the geometry it carries, brings its orientation to the grid's with brainglobe-space and
averages (or takes the mode of) the finer voxels in each 200 µm voxel;
:func:`points_to_map` bins points (IBL xyz metres or CCF µm) into count, density, sum or
mean maps. Every geometric fact comes from :mod:`agea_xr.spaces`.
"""

from __future__ import annotations

from ._files import FORMATS
from ._points import POINT_STATS, points_to_map
from ._read import read_map
from ._resample import KINDS

__all__ = ["FORMATS", "KINDS", "POINT_STATS", "points_to_map", "read_map"]
