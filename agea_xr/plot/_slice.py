"""One section of a volume, drawn to scale with region boundaries."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .._choices import close_matches
from ..bridge import label_of
from ..genes import gene as gene_volume
from ..layout import AP, DV, EXPERIMENT, ML, RESOLUTION_UM
from ..points import plane_position
from ..regions import check_mapping, region_ids
from ..stacks import item_variable

__all__ = ["FIGSIZE", "PLANES", "boundary_segments", "plot_slice"]

#: Slicing dimension -> (plane name, horizontal dim, vertical dim).
PLANES = {
    AP: ("coronal", ML, DV),
    ML: ("sagittal", AP, DV),
    DV: ("horizontal", ML, AP),
}
_AXIS_NAMES = {ML: "ML", AP: "AP", DV: "DV"}
#: Figure size (inches) per slicing dimension, for the shapes of the sections.
FIGSIZE = {AP: (6.6, 4.8), ML: (7.6, 4.0), DV: (6.0, 6.4)}


def _volume(obj: xr.Dataset | xr.DataArray, gene: str | None) -> xr.DataArray:
    """The 3-D volume to draw: one gene (NaN-aware mean of its experiments), or one item."""
    if isinstance(obj, xr.Dataset) and "expression" not in obj.data_vars:
        return _item_volume(obj, gene)
    if isinstance(obj, xr.Dataset):
        if gene is None:
            symbols = list(dict.fromkeys(str(s) for s in obj["gene"].values))
            if len(symbols) != 1:
                shown = ", ".join(symbols[:5]) + (", ..." if len(symbols) > 5 else "")
                raise ValueError(
                    f"Which gene? This dataset holds {len(symbols)} genes ({shown}): pass "
                    "gene='Pdyn' (for example)."
                )
            gene = symbols[0]
        return gene_volume(obj, gene, combine="mean")
    if EXPERIMENT in obj.dims:
        if gene is not None:
            return gene_volume(obj, gene, combine="mean")
        if obj.sizes[EXPERIMENT] == 1:
            return obj.isel({EXPERIMENT: 0})
        raise ValueError(
            f"This DataArray holds {obj.sizes[EXPERIMENT]} experiments: pass gene=... or "
            "select one experiment first."
        )
    if gene is not None:
        raise ValueError(
            f"gene={gene!r} selects experiments, but this DataArray has no 'experiment' "
            f"dimension (dims {tuple(obj.dims)}): it is one volume already; drop gene=."
        )
    return obj


def _item_volume(ds: xr.Dataset, name: str | None) -> xr.DataArray:
    """One map of a cell-type or lipid dataset (any ``(item, ml, dv, ap)`` stack), by name."""
    variable, item = item_variable(ds)
    stack = ds[variable]
    if name is None:
        if stack.sizes[item] != 1:
            names = [str(v) for v in stack[item].values[:5]]
            raise ValueError(
                f"Which {item}? This dataset holds {stack.sizes[item]} ({', '.join(names)}"
                f"{', ...' if stack.sizes[item] > 5 else ''}): pass its name as gene= "
                f"(e.g. gene={names[0]!r})."
            )
        return stack.isel({item: 0})
    names = [str(v) for v in stack[item].values]
    if str(name) not in names:
        matches = close_matches(str(name), names)
        hint = f" Closest matches: {', '.join(matches)}." if matches else ""
        raise KeyError(f"No {item} {name!r} in this dataset.{hint}")
    return stack.isel({item: names.index(str(name))})


def _pick_plane(vol: xr.DataArray, ap, ml, dv) -> tuple[str, int, float]:
    """The slicing dim, the plane's position in ``vol`` and its coordinate (metres).

    The plane is the one iblatlas' ``xyz2i`` picks (:func:`agea_xr.points.plane_position`),
    also for a position exactly half-way between two planes.
    """
    given = {d: v for d, v in ((AP, ap), (ML, ml), (DV, dv)) if v is not None}
    if len(given) != 1:
        raise ValueError(
            f"Give exactly one of ap=, ml=, dv= (metres from bregma, e.g. ap=-2.0e-3), got "
            f"{given or 'none'}."
        )
    ((dim, value),) = given.items()
    if dim not in vol.dims:
        raise ValueError(f"The volume has no {dim!r} dimension (dims {tuple(vol.dims)}).")
    k = plane_position(vol, dim, value)
    return dim, k, float(vol[dim].values[k])


#: Colour bar position in the section's axes coordinates: right of it, as tall as it.
_BAR_BOUNDS = (1.04, 0.0, 0.035, 1.0)
#: Room for the colour bar's tick labels and label, in font sizes.
_BAR_TEXT_EMS = 4.0


def _make_room_for_the_bar(ax) -> None:
    """Narrow ``ax`` so that its colour bar stays inside ``ax``'s own place in the figure.

    The bar is a child axes right of the section: a layout engine (constrained or
    tight, as plot_slice's own figures use) makes room for it. In a figure without
    one, e.g. a user's ``plt.subplots(1, 2)``, the section is narrowed within its
    original position instead, so that bar and label do not run into the next subplot.
    """
    import matplotlib as mpl

    fig = ax.figure
    if fig.get_layout_engine() is not None:
        return
    original = ax.get_position(original=True)
    text = _BAR_TEXT_EMS * mpl.rcParams["font.size"] / 72 / fig.get_figwidth()
    for _ in range(3):  # the equal aspect moves the drawn box when the width changes
        ax.apply_aspect()
        box = ax.get_position()
        right = box.x1 + (_BAR_BOUNDS[0] + _BAR_BOUNDS[2] - 1) * box.width + text
        overflow = right - original.x1
        if overflow <= 1e-6:
            return
        current = ax.get_position(original=True)
        ax.set_position(
            [current.x0, current.y0, max(current.width - overflow, 0.05), current.height],
            which="original",
        )


def _edges_mm(values: np.ndarray, dim: str) -> np.ndarray:
    """Voxel edges in mm of ascending voxel centres in metres (regular spacing)."""
    step = np.diff(values)
    if values.size > 1 and not np.allclose(step, step[0], rtol=1e-6):
        raise ValueError(
            f"The {dim!r} coordinate is not evenly spaced: plot a contiguous selection."
        )
    width = step[0] if values.size > 1 else RESOLUTION_UM / 1e6
    return np.r_[values - width / 2, values[-1] + width / 2] * 1e3


def boundary_segments(
    ids: np.ndarray, x_edges: np.ndarray, y_edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Line segments along voxel edges where the region changes, on an image grid.

    Parameters
    ----------
    ids : numpy.ndarray
        2-D region ids, rows along y, columns along x.
    x_edges, y_edges : numpy.ndarray
        Voxel edges along x (``ncols + 1``) and y (``nrows + 1``).

    Returns
    -------
    inner : numpy.ndarray
        ``(n, 2, 2)`` segments between two different regions, both in the brain.
    outline : numpy.ndarray
        ``(m, 2, 2)`` segments between the brain and void (id 0).

    Examples
    --------
    >>> ids = np.array([[0, 5, 7]])
    >>> inner, outline = boundary_segments(ids, np.arange(4.0), np.arange(2.0))
    >>> inner.tolist(), outline.tolist()
    ([[[2.0, 0.0], [2.0, 1.0]]], [[[1.0, 0.0], [1.0, 1.0]]])
    """
    ids = np.asarray(ids)
    rows, cols = np.nonzero(ids[:, 1:] != ids[:, :-1])  # vertical lines between columns
    x = x_edges[cols + 1]
    vertical = np.stack([np.c_[x, y_edges[rows]], np.c_[x, y_edges[rows + 1]]], axis=1).reshape(
        -1, 2, 2
    )
    v_void = (ids[rows, cols] == 0) | (ids[rows, cols + 1] == 0)
    rows2, cols2 = np.nonzero(ids[1:, :] != ids[:-1, :])  # horizontal lines between rows
    y = y_edges[rows2 + 1]
    horizontal = np.stack(
        [np.c_[x_edges[cols2], y], np.c_[x_edges[cols2 + 1], y]], axis=1
    ).reshape(-1, 2, 2)
    h_void = (ids[rows2, cols2] == 0) | (ids[rows2 + 1, cols2] == 0)
    segments = np.concatenate([vertical, horizontal]).astype(np.float64)
    void = np.concatenate([v_void, h_void])
    return segments[~void], segments[void]


def _units_label(vol: xr.DataArray) -> str:
    """Colour-bar label from ``long_name`` and ``units``.

    ``units`` "1" (the expression energy's, a relative unit) reads "(a.u.)"; no
    ``units`` attribute (a dimensionless quantity such as a correlation) adds nothing.
    """
    name = vol.attrs.get("long_name") or (str(vol.name) if vol.name is not None else "value")
    units = vol.attrs.get("units")
    if units is None or str(units) == "":
        return str(name)
    if str(units) == "1":
        return f"{name} (a.u.)"
    return f"{name} ({units})"


def _signed(vol: xr.DataArray, measured: np.ndarray) -> bool:
    """Whether the map takes negative values: in its ``valid_range`` or in the section."""
    valid = vol.attrs.get("valid_range", vol.attrs.get("valid_min"))
    if valid is not None and float(np.min(np.asarray(valid, dtype=np.float64))) < 0:
        return True
    return bool(measured.size) and float(measured.min()) < 0


def _colour_range(
    vol: xr.DataArray, measured: np.ndarray, signed: bool, vmin, vmax
) -> tuple[float, float]:
    """Default colour limits: 0 to the 99th percentile, or symmetric about 0 if signed."""
    if signed:
        if vmin is None and vmax is None:
            valid = vol.attrs.get("valid_range")
            if valid is not None:
                vmax = float(np.max(np.abs(np.asarray(valid, dtype=np.float64))))
            elif measured.size:
                vmax = float(np.percentile(np.abs(measured), 99))
            vmax = vmax if vmax else 1.0
        if vmax is None:
            vmax = abs(float(vmin))
        if vmin is None:
            vmin = -abs(float(vmax))
        return float(vmin), float(vmax)
    if vmin is None:
        vmin = min(0.0, float(measured.min())) if measured.size else 0.0
    if vmax is None:
        vmax = float(np.percentile(measured, 99)) if measured.size else 1.0
        vmax = vmax if vmax > vmin else vmin + 1.0
    return float(vmin), float(vmax)


def _subtitle(vol: xr.DataArray) -> str:
    if vol.attrs.get("description"):
        return str(vol.attrs["description"])
    experiments = vol.attrs.get("experiments")
    if experiments is None and EXPERIMENT in vol.coords and vol[EXPERIMENT].ndim == 0:
        experiments = [int(vol[EXPERIMENT])]
    if not experiments:
        return ""
    if len(experiments) == 1:
        return f"Allen experiment {experiments[0]}"
    return f"mean of {len(experiments)} Allen experiments"


def plot_slice(
    obj: xr.Dataset | xr.DataArray,
    gene: str | None = None,
    *,
    ap: float | None = None,
    ml: float | None = None,
    dv: float | None = None,
    boundaries: bool | None = None,
    mapping: str = "Beryl",
    ax: Any = None,
    cmap: Any = None,
    vmin: float | None = None,
    vmax: float | None = None,
    missing_color: Any = None,
    boundary_color: Any = None,
    colorbar: bool = True,
):
    """Draw one coronal, sagittal or horizontal slice of a gene's expression (or of any map).

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        A dataset, its ``expression``, or one volume (e.g. ``ds.agea.gene("Pdyn")``).
    gene : str, optional
        Gene symbol; several experiments are averaged (NaN-aware). Optional when
        there is only one gene or ``obj`` is a single volume. On a cell-type or
        lipid dataset: the name of the cell type or lipid (its item coordinate).
    ap, ml, dv : float, optional
        Exactly one: the plane's position in **metres** from bregma (e.g.
        ``ap=-2.0e-3`` for a coronal section 2 mm posterior to bregma). The
        nearest voxel plane is drawn, the one iblatlas' ``xyz2i`` picks (also for
        a position exactly half-way between two planes).
    boundaries : bool, optional
        Draw region boundaries from the label volume (thin lines) and the brain
        outline (thicker lines). Default: when a label is available (a Dataset with
        ``label``, or a DataArray with a ``label`` coordinate); True requires one.
    mapping : str, default "Beryl"
        Region level of the boundaries (see :data:`agea_xr.regions.MAPPINGS`);
        ``"Allen"`` draws every layer, ``"Cosmos"`` only major divisions.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new pyplot figure.
    cmap : str or Colormap, optional
        Default ``"magma"`` for non-negative maps (expression), ``"RdBu_r"``
        (diverging, white at 0) for signed maps: those whose ``valid_range``
        attribute includes negative values (a correlation map) or whose section
        has negative values (the processed variant).
    vmin, vmax : float, optional
        Colour range. Non-negative maps: default 0 to the 99th percentile of the
        section's measured values (brighter voxels saturate, shown by the colour
        bar's arrow). Signed maps: centred on 0, ``vmin = -vmax``, with ``vmax``
        from ``valid_range`` (1 for a correlation) or the 99th percentile of the
        absolute values; giving only one of the two mirrors it.
    missing_color : color, optional
        Colour of voxels without measurement (NaN): default ``"lightgrey"``, or
        a mid grey (``"0.6"``) on a signed map, whose 0 is white.
    boundary_color : color, optional
        Default ``"white"``, or near-black (``"0.15"``) on a signed map.
    colorbar : bool, default True
        Add a colour bar labelled from the map's ``long_name`` and ``units``
        attributes: ``units="1"`` (the expression energy) reads "(a.u.)", no
        ``units`` (a dimensionless r) adds nothing.

    Returns
    -------
    matplotlib.axes.Axes
        Axes in mm from bregma, equal aspect. Artists carry labels:
        ``"expression"`` (the image), ``"region boundaries"`` and ``"brain outline"``
        (LineCollections).

    Raises
    ------
    ValueError
        Not exactly one of ``ap``/``ml``/``dv``, a position that is not finite
        (NaN, inf) or lies outside the grid, no gene when several are present,
        or ``boundaries=True`` without a label volume (use the Dataset, or attach
        ``label=ds.label`` as a coordinate). Nothing is drawn then.
    TypeError
        For a position that is not a number.
    KeyError
        For an unknown gene (with close matches).
    ImportError
        Without matplotlib (install ``agea-xr[plot]``).

    Examples
    --------
    >>> import agea_xr
    >>> from matplotlib.figure import Figure
    >>> ds = agea_xr.open_sample()
    >>> ax = plot_slice(ds, "Pdyn", ap=1.0e-3, ax=Figure().add_subplot())
    >>> ax.get_xlabel()
    'ML from bregma (mm)'
    """
    try:
        import matplotlib as mpl
        from matplotlib.collections import LineCollection
        from matplotlib.patches import Patch
    except ImportError as err:  # pragma: no cover - matplotlib is in the test env
        raise ImportError("plot_slice needs matplotlib: pip install 'agea-xr[plot]'.") from err

    mapping = check_mapping(mapping)
    vol = _volume(obj, gene)
    label = None
    holder = obj if isinstance(obj, xr.Dataset) else vol
    if boundaries is None:
        boundaries = (
            "label" in (holder.variables if isinstance(holder, xr.Dataset) else holder.coords)
            or vol.name == "label"
        )
    if boundaries:
        label = label_of(holder)
    dim, k, position = _pick_plane(vol, ap, ml, dv)
    plane, xdim, ydim = PLANES[dim]
    extra = [d for d in vol.dims if d not in (ML, DV, AP)]
    if extra:
        raise ValueError(
            f"The volume to draw has extra dims {extra}: select or reduce them first."
        )
    field = vol.isel({dim: k}).transpose(ydim, xdim).sortby([ydim, xdim])
    values = np.asarray(field.values, dtype=np.float64)
    x_edges = _edges_mm(np.asarray(field[xdim].values, dtype=np.float64), xdim)
    y_edges = _edges_mm(np.asarray(field[ydim].values, dtype=np.float64), ydim)

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=FIGSIZE[dim], layout="constrained")
    measured = values[np.isfinite(values)]
    signed = _signed(vol, measured)
    vmin, vmax = _colour_range(vol, measured, signed, vmin, vmax)
    if cmap is None:
        cmap = "RdBu_r" if signed else "magma"
    if missing_color is None:
        missing_color = "0.6" if signed else "lightgrey"
    if boundary_color is None:
        boundary_color = "0.15" if signed else "white"
    colormap = mpl.colormaps[cmap] if isinstance(cmap, str) else cmap
    colormap = colormap.with_extremes(bad=missing_color)
    image = ax.imshow(
        np.ma.masked_invalid(values),
        origin="lower",
        extent=(x_edges[0], x_edges[-1], y_edges[0], y_edges[-1]),
        cmap=colormap,
        vmin=vmin,
        vmax=vmax,
        interpolation="nearest",
        label="expression",
    )
    ax.set_aspect("equal")
    ax.set_xlim(x_edges[0], x_edges[-1])
    ax.set_ylim(y_edges[0], y_edges[-1])
    if dim == ML:  # sagittal: anterior on the left, as iblatlas draws it
        ax.invert_xaxis()

    if label is not None:
        ids_da = label.isel({dim: plane_position(label, dim, position)})
        ids_da = ids_da.transpose(ydim, xdim).sortby([ydim, xdim])
        ids = region_ids(np.asarray(ids_da.values), mapping)
        inner, outline = boundary_segments(ids, x_edges, y_edges)
        ax.add_collection(
            LineCollection(
                inner,
                colors=boundary_color,
                linewidths=0.5,
                alpha=0.55,
                label=f"region boundaries ({mapping})",
                gid="region boundaries",
            )
        )
        ax.add_collection(
            LineCollection(
                outline,
                colors=boundary_color,
                linewidths=1.1,
                label="brain outline",
                gid="brain outline",
            )
        )

    names = {ML: "ML", AP: "AP", DV: "DV"}
    ax.set_xlabel(f"{names[xdim]} from bregma (mm)")
    ax.set_ylabel(f"{names[ydim]} from bregma (mm)")
    left_right = {
        AP: ("L", "R"),  # coronal: left hemisphere on the left
        ML: ("anterior", "posterior"),
        DV: ("L", "R"),
    }[dim]
    for x, text, ha in ((0.0, left_right[0], "left"), (1.0, left_right[1], "right")):
        ax.text(x, 1.01, text, transform=ax.transAxes, ha=ha, va="bottom", fontweight="bold")
    title = f"{vol.name or 'expression'}: {plane} section, {names[dim]} {position * 1e3:+.2f} mm"
    sub = _subtitle(vol)
    ax.set_title(title + (f"\n{sub}" if sub else ""), pad=16)
    legend_ax = ax
    if colorbar:
        over = measured.size and float(measured.max()) > vmax
        under = measured.size and float(measured.min()) < vmin
        extend = {(True, True): "both", (True, False): "max", (False, True): "min"}.get(
            (bool(over), bool(under)), "neither"
        )
        cax = ax.inset_axes(_BAR_BOUNDS)  # exactly as tall as the section
        bar = ax.figure.colorbar(image, cax=cax, label=_units_label(vol), extend=extend)
        _make_room_for_the_bar(ax)
        legend_ax = bar.ax
    if np.isnan(values).any():
        legend_ax.legend(
            handles=[Patch(facecolor=missing_color, edgecolor="0.4", label="no\nmeasurement")],
            loc="upper right" if colorbar else "upper left",
            bbox_to_anchor=(1.0, -0.03) if colorbar else (0.0, -0.1),
            fontsize="small",
            frameon=False,
            handlelength=1.2,
            borderaxespad=0.0,
        )
    return ax
