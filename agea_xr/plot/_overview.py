"""Three sections (coronal, sagittal, horizontal) through one point, one colour scale."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ..layout import AP, DV, ML, RESOLUTION_UM
from ..points import plane_position
from ._slice import PLANES, _colour_range, _signed, _volume, plot_slice

__all__ = ["OVERVIEW_PLANES", "plot_overview"]


#: The three planes of :func:`plot_overview`, in drawing order (slicing dim each).
OVERVIEW_PLANES = (AP, ML, DV)


def _default_point(vol: xr.DataArray) -> tuple[float, float, float]:
    """(x, y, z) = (ml, ap, dv) in metres of the volume's largest finite value."""
    values = np.asarray(vol.transpose(ML, DV, AP).values, dtype=np.float64)
    if not np.isfinite(values).any():
        raise ValueError(
            "The volume has no finite value, so it has no maximum to centre the overview on: "
            "pass xyz=(ml, ap, dv) in metres."
        )
    i, j, k = np.unravel_index(np.nanargmax(values), values.shape)
    return float(vol[ML].values[i]), float(vol[AP].values[k]), float(vol[DV].values[j])


def plot_overview(
    obj: xr.Dataset | xr.DataArray,
    gene: str | None = None,
    *,
    xyz: Any = None,
    boundaries: bool | None = None,
    mapping: str = "Beryl",
    fig: Any = None,
    cmap: Any = None,
    vmin: float | None = None,
    vmax: float | None = None,
    missing_color: Any = None,
    boundary_color: Any = None,
):
    """Three sections through one point: coronal, sagittal and horizontal, one colour scale.

    Each section is drawn by :func:`plot_slice` (same orientation, boundaries,
    missing-voxel colour); dashed lines mark where the other two planes cut it.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        As for :func:`plot_slice`: a dataset, its ``expression``, or any
        ``(ml, dv, ap)`` volume (a correlation map, clusters, a region map).
    gene : str, optional
        Gene symbol (or a cell type's or lipid's name), as for :func:`plot_slice`.
    xyz : sequence of 3 float, optional
        The point ``(x, y, z)`` = (ML, AP, DV) in **metres** from bregma, as
        :mod:`agea_xr.points` takes it. Each plane is the one iblatlas' ``xyz2i``
        picks through it. Default: the voxel of the volume's largest value.
    boundaries, mapping, cmap, missing_color, boundary_color
        As for :func:`plot_slice`.
    fig : matplotlib.figure.Figure, optional
        Where to draw (an empty figure or subfigure); default a new pyplot figure.
    vmin, vmax : float, optional
        Colour range shared by the three sections; default as :func:`plot_slice`
        chooses it, over the measured values of all three.

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : tuple of matplotlib.axes.Axes
        The coronal, sagittal and horizontal sections (the last has the colour
        bar). Each axes' title names its plane and position; the plane markers
        are LineCollections with gid ``"planes"``.

    Raises
    ------
    ValueError
        As :func:`plot_slice`; also for ``xyz`` that is not three numbers, or a
        volume without a finite value and no ``xyz``.

    Examples
    --------
    >>> import agea_xr
    >>> from matplotlib.figure import Figure
    >>> ds = agea_xr.open_sample()
    >>> fig, axes = plot_overview(ds, "Pdyn", xyz=(2.5e-3, 0.5e-3, -3.5e-3), fig=Figure())
    >>> [ax.get_title().split(":")[1].split(",")[0].strip() for ax in axes]
    ['coronal section', 'sagittal section', 'horizontal section']
    """
    from matplotlib.collections import LineCollection

    vol = _volume(obj, gene)
    extra = [d for d in vol.dims if d not in (ML, DV, AP)]
    if extra:
        raise ValueError(
            f"The volume to draw has extra dims {extra}: select or reduce them first."
        )
    if isinstance(obj, xr.Dataset) and "label" in obj.variables and "label" not in vol.coords:
        vol = vol.assign_coords(label=obj["label"])
    vol = vol.compute()  # read once, drawn three times
    if xyz is None:
        xyz = _default_point(vol)
    point = np.asarray(xyz, dtype=np.float64).reshape(-1) if np.ndim(xyz) else None
    if point is None or point.size != 3:
        raise ValueError(
            f"xyz must be one point (x, y, z) = (ML, AP, DV) in metres from bregma, got {xyz!r}."
        )
    where = {ML: point[0], AP: point[1], DV: point[2]}
    picked = {d: plane_position(vol, d, where[d]) for d in OVERVIEW_PLANES}
    centres = {d: float(vol[d].values[k]) * 1e3 for d, k in picked.items()}  # mm
    sections = [np.asarray(vol.isel({d: picked[d]}).values, dtype=np.float64) for d in picked]
    measured = np.concatenate([s[np.isfinite(s)] for s in sections])
    vmin, vmax = _colour_range(vol, measured, _signed(vol, measured), vmin, vmax)

    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(16.0, 5.2), layout="constrained")
    span = {d: float(np.ptp(vol[d].values)) + RESOLUTION_UM / 1e6 for d in (ML, DV, AP)}
    widths = (span[ML] / span[DV], span[AP] / span[DV], span[ML] / span[AP])
    axes = tuple(fig.subplots(1, 3, width_ratios=widths))
    for ax, dim in zip(axes, OVERVIEW_PLANES, strict=True):
        plot_slice(
            vol,
            None,
            **{dim: where[dim]},
            boundaries=boundaries,
            mapping=mapping,
            ax=ax,
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
            missing_color=missing_color,
            boundary_color=boundary_color,
            colorbar=dim == OVERVIEW_PLANES[-1],
        )
        _, xdim, ydim = PLANES[dim]
        x0, x1 = sorted(ax.get_xlim())
        y0, y1 = sorted(ax.get_ylim())
        cx, cy = centres[xdim], centres[ydim]
        ax.add_collection(
            LineCollection(
                [[(cx, y0), (cx, y1)], [(x0, cy), (x1, cy)]],
                colors="cyan",
                linewidths=0.8,
                linestyles="--",
                alpha=0.8,
                gid="planes",
                label="planes of the other sections",
            )
        )
    return fig, axes
