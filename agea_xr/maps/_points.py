""":func:`points_to_map`: cells, channels or injection sites -> count, density, sum, mean."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .._choices import check_choice, check_finite
from ..bridge import wrap_volume
from ..layout import GRID_SHAPE, LABEL_FILE, NXYZ, RESOLUTION_UM, XYZ2DIMS
from ..points import MODES, xyz2i
from ..sample import sample_path
from ..spaces import ccf_um_to_xyz

__all__ = ["POINT_STATS", "points_to_map"]

#: What :func:`points_to_map` computes per voxel.
POINT_STATS = ("count", "density", "sum", "mean")
_SPACES = ("ibl", "ccf")
_VOXEL_MM3 = (RESOLUTION_UM / 1e3) ** 3
_LONG_NAMES = {
    "count": ("number of points in the voxel", "1"),
    "density": ("points per cubic millimetre", "mm-3"),
    "sum": ("sum of the points' values in the voxel", None),
    "mean": ("mean of the points' values in the voxel (NaN: no point)", None),
}


def _brain() -> np.ndarray:
    """True inside the brain: the release's label volume (the bundled one, the same grid)."""
    label = np.load(sample_path() / LABEL_FILE, allow_pickle=False)
    return label != 0


def points_to_map(
    xyz: Any,
    values: Any = None,
    stat: str = "count",
    *,
    space: str = "ibl",
    ccf_order: str = "mlapdv",
    mode: str = "raise",
    fwhm_um: float = 0.0,
    brain_only: bool = True,
) -> xr.DataArray:
    """A map of points on the AGEA grid: how many fall in each voxel, or their values.

    Each point goes to its nearest voxel by the package's one rule
    (:func:`agea_xr.points.xyz2i`, iblatlas' ``xyz2i``). Without smoothing, ``count`` and
    ``sum`` equal iblatlas' ``plots.compute_volume_from_points(xyz, values, aggr,
    fwhm=0, ba=...)`` on the AGEA atlas (0 in empty voxels, NaN outside the brain);
    ``mean`` differs only where no point fell (NaN here, 0 there).

    Parameters
    ----------
    xyz : array-like, shape (n, 3)
        Points: x, y, z in metres from bregma (``space="ibl"``), or CCF µm
        (``space="ccf"``, columns in ``ccf_order``).
    values : array-like, shape (n,), optional
        A value per point, for ``sum`` and ``mean`` (NaN values are left out).
    stat : {"count", "density", "sum", "mean"}, default "count"
        Points per voxel, points per mm³ (count / 0.008 mm³), or the sum or mean of
        ``values`` per voxel.
    space : {"ibl", "ccf"}, default "ibl"
    ccf_order : {"mlapdv", "apdvml"}, default "mlapdv"
        Column order of CCF points (iblatlas' names; Allen's own order is ``apdvml``).
    mode : {"raise", "clip", "nan"}, default "raise"
        Points outside the grid (or not finite): raise, go to the nearest voxel of the
        grid, or are left out (counted in the ``points_outside`` attribute).
    fwhm_um : float, default 0
        Full width at half maximum of a Gaussian smoothing in µm, as iblatlas' ``fwhm``
        (``scipy.ndimage.gaussian_filter`` with sigma = fwhm / (√(8 ln 2) × 200 µm)),
        applied before the brain mask. 0: none.
    brain_only : bool, default True
        NaN outside the brain (region 0 of the release's label), as iblatlas.

    Returns
    -------
    xarray.DataArray
        float32 ``(ml, dv, ap)``, named ``points_<stat>``.

    Raises
    ------
    ValueError
        For a bad shape, stat, space, mode or ``fwhm_um``, values missing for ``sum``/
        ``mean`` or of the wrong length, points outside the grid (mode ``raise``).

    Examples
    --------
    >>> m = points_to_map([[0.0, -2.0e-3, -3.0e-3], [0.0, -2.0e-3, -3.0e-3]])
    >>> float(m.sum()), {d: int(i) for d, i in m.argmax(...).items()}
    (2.0, {'ml': 29, 'dv': 17, 'ap': 37})
    """
    stat = check_choice(stat, POINT_STATS, "stat", "(what each voxel gets).")
    space = check_choice(space, _SPACES, "space", "('ibl': metres from bregma; 'ccf': um).")
    mode = check_choice(mode, MODES, "mode", "(what a point outside the grid gets).")
    fwhm = check_finite(fwhm_um, "fwhm_um", unit="um")
    if fwhm < 0:
        raise ValueError(f"fwhm_um must be 0 (no smoothing) or positive, got {fwhm_um!r}.")
    points = np.asarray(xyz, dtype=np.float64)
    if points.ndim == 1 and points.shape == (3,):
        points = points[None, :]
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"Points must be an (n, 3) array, got shape {points.shape}.")
    if space == "ccf":
        points = ccf_um_to_xyz(points, ccf_order)
    if stat in ("sum", "mean"):
        if values is None:
            raise ValueError(f"stat={stat!r} needs values=, one per point.")
        weights = np.asarray(values, dtype=np.float64).reshape(-1)
        if weights.shape[0] != points.shape[0]:
            raise ValueError(
                f"values has {weights.shape[0]} entries for {points.shape[0]} points."
            )
    else:
        weights = np.ones(points.shape[0])
    outside = 0
    if mode == "nan":
        keep = np.isfinite(points).all(axis=1)
        keep[keep] = _inside(points[keep])
        outside = int((~keep).sum())
        index, weights = xyz2i(points[keep]).reshape(-1, 3), weights[keep]
    else:
        index = xyz2i(points, mode=mode)
    dims_index = index[:, XYZ2DIMS]  # (i_ml, i_dv, i_ap)
    flat = np.ravel_multi_index(dims_index.T, GRID_SHAPE)
    size = int(np.prod(GRID_SHAPE))
    used = np.isfinite(weights)
    counts = np.bincount(flat[used], minlength=size).astype(np.float64)
    if stat == "count":
        volume = counts
    elif stat == "density":
        volume = counts / _VOXEL_MM3
    else:
        sums = np.bincount(flat[used], weights=weights[used], minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            volume = sums if stat == "sum" else np.where(counts > 0, sums / counts, np.nan)
    volume = volume.reshape(GRID_SHAPE)
    if fwhm > 0:
        from scipy.ndimage import gaussian_filter

        sigma = fwhm / (np.sqrt(8 * np.log(2)) * RESOLUTION_UM)
        volume = gaussian_filter(volume, sigma=sigma)
    volume = volume.astype(np.float32)
    if brain_only:
        volume[~_brain()] = np.nan
    long_name, units = _LONG_NAMES[stat]
    attrs = {"long_name": long_name, "points": int(points.shape[0]), "points_outside": outside}
    attrs.update({"units": units} if units else {})
    attrs.update(fwhm_um=fwhm, space=space)
    return wrap_volume(volume, name=f"points_{stat}", dims=(), attrs=attrs)


def _inside(points: np.ndarray) -> np.ndarray:
    """Whether each finite point's nearest voxel lies inside the grid (the one rule)."""
    from ..layout import XYZ_DIMS, nearest_index

    ok = np.ones(points.shape[0], dtype=bool)
    for axis, dim in enumerate(XYZ_DIMS):
        index = nearest_index(points[:, axis], dim)
        ok &= (index >= 0) & (index < NXYZ[axis])
    return ok
