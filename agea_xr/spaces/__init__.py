"""Where volumes lie in the Allen CCFv3: the one module of every grid <-> CCF conversion.

Three ways of naming a place, and the conversions between them:

- **grid index** ``(i_ml, i_dv, i_ap)`` of the AGEA 200 µm volume (C order ``(ml, dv, ap)``);
- **CCF micrometres**, Allen's Common Coordinate Framework v3: ML from the left edge,
  DV from the top, AP from the front. As in iblatlas (``BrainAtlas.xyz2ccf``), voxel
  ``j`` of a CCF volume at resolution ``r`` is centred at ``j * r`` µm, so grid voxel
  ``i`` is centred at ``200 * i`` µm;
- **IBL xyz metres** from bregma: x = ML (right +), y = AP (anterior +), z = DV
  (dorsal +), bregma at CCF (ML 5,739, AP 5,400, DV 332) µm
  (:data:`agea_xr.layout.BREGMA_UM`). This is RAS+, so a NIfTI affine in millimetres
  has world = IBL xyz × 1000 (origin at bregma) or = (ML, -AP, -DV) CCF mm (origin
  at the CCF corner).

Array orientations are named as brainglobe-space names them (``AnatomicalSpace``):
three letters giving the side where index 0 of each axis lies. The AGEA grid is
``"lsa"``; Allen's CCF files, read in C order as ``(ap, dv, ml)``, are ``"asl"`` (Allen:
+x posterior, +y inferior, +z right; iblatlas reads them so). BrainGlobe's
``allen_mouse_*`` atlases label the same arrays ``"asr"`` (brainglobe-atlasapi issue
#104): data registered with BrainGlobe's tools are ``"asr"`` in BrainGlobe's sense.

Landmarks checked rather than assumed: the grid's midline lies between ``i_ml`` 28
and 29 (:data:`agea_xr.layout.LEFT_ML_MAX_INDEX`), the CCF midline at 5,700 µm
(:data:`CCF_MIDLINE_UM`); every whole-width CCF volume splits there (:func:`check_midline`).

A :class:`Placement` says where each voxel of an array lies: from an orientation and
a resolution (arrays, TIFF stacks), a NIfTI affine, a NRRD or MetaImage header, or
OME-Zarr axes; it writes the same geometry back (:meth:`Placement.affine`,
:func:`nrrd_header`, :func:`ngff_axes`), so that a volume written through this module
and read back lands on the same voxels.
"""

from __future__ import annotations

from ._headers import (
    grid_affine,
    ngff_axes,
    nrrd_header,
    placement_from_directions,
    placement_from_ngff,
)
from ._landmarks import (
    ALLEN_ORIENTATION,
    CCF_MIDLINE_UM,
    CCF_SHAPES,
    GRID_ORIENTATION,
    ORIGINS,
    ccf_um_to_xyz,
    check_midline,
    grid_ccf_um,
    grid_index_of_ccf,
    other_space_message,
    xyz_to_ccf_um,
)
from ._placement import Placement, allen_layout

__all__ = [
    "ALLEN_ORIENTATION",
    "CCF_MIDLINE_UM",
    "CCF_SHAPES",
    "GRID_ORIENTATION",
    "ORIGINS",
    "Placement",
    "allen_layout",
    "ccf_um_to_xyz",
    "check_midline",
    "grid_affine",
    "grid_ccf_um",
    "grid_index_of_ccf",
    "ngff_axes",
    "nrrd_header",
    "other_space_message",
    "placement_from_directions",
    "placement_from_ngff",
    "xyz_to_ccf_um",
]
