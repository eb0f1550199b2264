"""Where an array's voxels lie in the CCF: :class:`Placement` and Allen's file layout."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._choices import check_choice
from ..layout import BREGMA_UM, GRID_DIMS, GRID_SHAPE, ML, RESOLUTION_UM
from ._landmarks import (
    _GRID_EXTENT_UM,
    _HIGH_SIDE,
    _LOW_SIDE,
    _ORIGIN_HINT,
    _TOL_UM,
    _WORLD_AXIS,
    _WORLD_SIGN,
    ALLEN_ORIENTATION,
    CCF_MIDLINE_UM,
    CCF_SHAPES,
    GRID_ORIENTATION,
    ORIGINS,
    other_space_message,
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
