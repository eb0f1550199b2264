"""Geometry written into and read from file headers: NIfTI, NRRD, MetaImage, OME-Zarr."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from .._choices import check_choice
from ..layout import BREGMA_UM, GRID_DIMS, RESOLUTION_UM
from ._landmarks import (
    _LOW_SIDE,
    _NGFF_READ,
    _NGFF_VALUES,
    _ORIGIN_HINT,
    ORIGINS,
    other_space_message,
)
from ._placement import Placement, allen_layout


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
