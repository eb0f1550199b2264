"""CF attributes: every variable, coordinate and result of agea-xr in one table.

The one owner of what the data *say about themselves* (CF-1.10): the
``long_name``, ``units``, ``axis``, ``valid_range`` and ``comment`` of every
variable and coordinate of an AGEA dataset (:data:`ATTRIBUTES`,
:data:`COORD_ATTRS`) and of the results of the analyses (region statistics,
seed correlation ``r``, the columns of ``gene_finder``), plus the global
attributes, ``Conventions`` and the ``history`` stamped on what is written
(:func:`update_attributes`). The dataset builder, the encodings, the exports
and the analyses take their attributes from here, so one file decides what a
CF checker sees.

A few choices, against the CF standard-name table:

- The grid coordinates ``ml``, ``dv``, ``ap`` are distances from bregma on a
  brain, not a map projection: ``units: "m"``, a ``long_name``, and no
  ``standard_name`` (``projection_x_coordinate`` would claim a projection). In
  memory they carry ``axis`` X/Z/Y, which cf_xarray reads. In files ``ml`` and
  ``ap`` do not: CF reads ``axis: X``/``Y`` as longitude/latitude unless the
  coordinate is a projection coordinate, and then requires true latitude and
  longitude for the grid (CF 4, 5.6), which a brain has not. ``dv`` keeps
  ``axis: Z`` with ``positive: "up"`` (dorsal). :func:`agea_xr.open_export`
  puts the axes back.
- ``label`` holds indices into iblatlas' ``BrainRegions`` table: a
  dimensionless index, not a quantity, so it has no ``units``.
- Expression energy is a relative quantity: ``units: "1"``. A correlation
  ``r`` is a pure number and has no ``units`` (CF allows it to be absent).

This module imports nothing but numpy, xarray and :mod:`agea_xr.layout`.
"""

from __future__ import annotations

import datetime
from collections.abc import Hashable, Mapping
from types import MappingProxyType
from typing import Any, Final

import xarray as xr

from . import layout

__all__ = [
    "ATTRIBUTES",
    "CONVENTIONS",
    "COORD_ATTRS",
    "TITLE",
    "attributes",
    "count_attributes",
    "expression_attributes",
    "global_attributes",
    "history_entry",
    "item_attributes",
    "items_name",
    "restore_attributes",
    "update_attributes",
]

#: The CF version the files follow (global attribute ``Conventions``).
CONVENTIONS: Final = "CF-1.10"
#: Global ``title`` of a dataset opened from an IBL release.
TITLE: Final = "Allen Gene Expression Atlas (AGEA), IBL release"

#: CF attributes of the grid coordinates: ``axis``, ``units``, ``long_name``;
#: ``dv`` is positive up (dorsal). No ``standard_name``: these are not map
#: projection coordinates.
COORD_ATTRS: Final = MappingProxyType(
    {
        layout.ML: MappingProxyType(
            {
                "units": "m",
                "long_name": "medio-lateral position from bregma (right positive)",
                "axis": "X",
            }
        ),
        layout.AP: MappingProxyType(
            {
                "units": "m",
                "long_name": "antero-posterior position from bregma (anterior positive)",
                "axis": "Y",
            }
        ),
        layout.DV: MappingProxyType(
            {
                "units": "m",
                "long_name": "dorso-ventral position from bregma (dorsal positive)",
                "axis": "Z",
                "positive": "up",
            }
        ),
    }
)

_ENERGY = (
    "Allen expression energy (sum of expressing pixel intensities over all pixels of the "
    "200 um voxel)."
)
_MEASURES = {
    "energy": _ENERGY,
    "density": "Allen expression density (fraction of the 200 um voxel's pixels expressing).",
    "intensity": "Allen expression intensity (mean intensity of the expressing pixels).",
}
_MISSING_NAN = " NaN: no measurement (-1 in the raw file)."
_MISSING_RAW = " -1 means no measurement (undecoded raw float16 values)."
_PROCESSED = (
    " IBL-processed: hemispheres merged, PPCA-imputed, curtaining corrected; no missing "
    "values, may be negative."
)


def _table(entries: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Mapping[str, Any]]:
    return MappingProxyType({k: MappingProxyType(dict(v)) for k, v in entries.items()})


#: CF attributes by variable name: the dataset's variables and coordinates, then
#: the results of the analyses (``region_expression`` statistics and coordinates,
#: ``seed_correlation``'s ``r``, ``gene_finder``'s columns). Dimensionless counts
#: and relative quantities have ``units: "1"``; indices, ids and ``r`` none.
ATTRIBUTES: Final = _table(
    {
        # --- the dataset ---------------------------------------------------------
        layout.EXPERIMENT: {"long_name": "Allen ISH experiment (SectionDataSet) id"},
        "gene": {"long_name": "gene symbol (MGI)"},
        "plane": {"long_name": "plane of section"},
        "expression": {
            "long_name": "ISH gene expression energy",
            "units": "1",
            "comment": _ENERGY + _MISSING_NAN,
        },
        "density": {
            "long_name": "ISH gene expression density",
            "units": "1",
            "comment": _MEASURES["density"] + _MISSING_NAN,
        },
        "intensity": {
            "long_name": "ISH gene expression intensity",
            "units": "1",
            "comment": _MEASURES["intensity"] + _MISSING_NAN,
        },
        "label": {
            "long_name": "brain region index into iblatlas BrainRegions (lateralised)",
            "comment": "iblatlas.regions.BrainRegions().id[label] is the Allen region id; "
            "left-hemisphere voxels point at negative ids. An index, not a quantity: no units.",
        },
        "image": {
            "long_name": "Allen template image averaged onto the 200 um grid",
            "units": "1",
        },
        # --- MERFISH cell types and lipids (agea_xr.open_cell_types, open_lipids) --
        "cell_type_density": {
            "long_name": "MERFISH cells of the type per 200 um voxel (interpolated)",
            "units": "1",
            "comment": "Allen Brain Cell atlas MERFISH cells counted per voxel, normalised "
            "by overlapping sections, interpolated and mirrored (iblatlas). NaN: no section.",
        },
        "cell_type_proportion": {
            "long_name": "proportion of the voxel's cells of the type",
            "units": "1",
            "valid_range": [0.0, 1.0],
            "comment": "iblatlas merfish.denoise_volume: NaN filled, smoothed (sigma 0.5 "
            "voxel), masked to the brain, divided by the sum over types.",
        },
        "lipid_intensity": {
            "long_name": "MALDI lipid log intensity (uMAIA-normalised)",
            "units": "1",
            "comment": "Lipid Brain Atlas, averaged per voxel, interpolated and mirrored "
            "(iblatlas). NaN outside the brain and the sampled range.",
        },
        # --- region_expression ---------------------------------------------------
        "region": {"long_name": "Allen structure id (negative: left hemisphere)"},
        "acronym": {"long_name": "Allen structure acronym"},
        "name": {"long_name": "Allen structure name"},
        "hemisphere": {"long_name": "hemisphere of the region row"},
        "voxels": {"long_name": "voxels of the region on the 200 um grid", "units": "1"},
        "n_experiments": {"long_name": "number of experiments contributing", "units": "1"},
        "mean": {"long_name": "mean expression energy of the measured voxels", "units": "1"},
        "median": {
            "long_name": "median expression energy of the measured voxels",
            "units": "1",
        },
        "std": {
            "long_name": "standard deviation (ddof=0) of the expression energy of the "
            "measured voxels",
            "units": "1",
        },
        "count": {"long_name": "number of measured voxels", "units": "1"},
        "fraction_measured": {
            "long_name": "fraction of the region's voxels that are measured",
            "units": "1",
            "valid_range": [0.0, 1.0],
        },
        # --- maps (read_map, points_to_map) --------------------------------------
        "coverage": {
            "long_name": "fraction of the 200 um voxel covered by finite finer voxels",
            "units": "1",
            "valid_range": [0.0, 1.0],
        },
        # --- region_map ----------------------------------------------------------
        "region_map": {
            "long_name": "per-region value painted onto the voxels of each region",
            "comment": "Every voxel holds the value of the region its mapping assigns it to. "
            "NaN: outside the brain, or a region without a value.",
        },
        # --- seed_correlation ----------------------------------------------------
        "r": {"long_name": "Pearson r", "valid_range": [-1.0, 1.0]},
        # --- gene_finder (table columns) -----------------------------------------
        "rank": {"long_name": "rank by the sort column (1: most enriched)"},
        "mean_target": {"long_name": "mean expression energy in the target", "units": "1"},
        "mean_contrast": {
            "long_name": "mean expression energy in the contrast",
            "units": "1",
        },
        "fold_change": {"long_name": "mean_target / mean_contrast", "units": "1"},
        "effect_size": {
            "long_name": "difference of means in units of the voxel-to-voxel spread (Cohen's d)",
            "units": "1",
        },
        "n_target": {"long_name": "measured voxels in the target", "units": "1"},
        "n_contrast": {"long_name": "measured voxels in the contrast", "units": "1"},
    }
)


def attributes(name: Hashable) -> dict[str, Any]:
    """A fresh copy of the CF attributes of one variable, coordinate or result.

    Parameters
    ----------
    name : str
        A name of :data:`ATTRIBUTES` (``"expression"``, ``"label"``, ``"mean"``,
        ``"r"``, ``"effect_size"`` ...) or a grid coordinate (``"ml"``, ``"dv"``,
        ``"ap"``).

    Returns
    -------
    dict
        To be changed freely (the table is read-only).

    Raises
    ------
    KeyError
        For a name the table does not have; the message lists those it has.

    Examples
    --------
    >>> attributes("ml")["axis"], "units" in attributes("label")
    ('X', False)
    >>> attributes("r")
    {'long_name': 'Pearson r', 'valid_range': [-1.0, 1.0]}
    """
    if name in COORD_ATTRS:
        return dict(COORD_ATTRS[name])
    if name in ATTRIBUTES:
        return {k: list(v) if isinstance(v, list) else v for k, v in ATTRIBUTES[name].items()}
    known = ", ".join(map(repr, [*COORD_ATTRS, *ATTRIBUTES]))
    raise KeyError(
        f"No CF attributes for {name!r} in agea_xr.conventions.ATTRIBUTES: add an entry "
        f"there, or use one of {known}."
    )


def expression_attributes(
    measure: str = "energy", *, variant: str = "raw", masked: bool = True
) -> dict[str, Any]:
    """CF attributes of an expression volume, as it is decoded.

    Parameters
    ----------
    measure : {"energy", "density", "intensity"}, default "energy"
        The Allen measure (``expression`` of the release is the energy).
    variant : {"raw", "processed"}, default "raw"
        The binary the values come from.
    masked : bool, default True
        Whether missing values are NaN (decoded) or the stored ``-1``.

    Returns
    -------
    dict
        ``long_name``, ``units`` (``"1"``: a relative quantity) and ``comment``
        (what the values are and what marks a missing one).

    Examples
    --------
    >>> expression_attributes(masked=False)["comment"].endswith("raw float16 values).")
    True
    """
    name = "expression" if measure == "energy" else measure
    attrs = attributes(name)
    if variant == "processed":
        attrs["comment"] = _MEASURES[measure] + _PROCESSED
    elif not masked:
        attrs["comment"] = _MEASURES[measure] + _MISSING_RAW
    return attrs


#: Words of the gene analyses' attributes -> their wording on another item variable
#: (None: the variable's name).
_ON_ITEMS = (
    ("(-1 in the release files, NaN once decoded)", "(NaN)"),
    ("expression energy", None),
    ("expression", None),
)


def items_name(item: str) -> str:
    """The name of a count of items, as ``n_experiments`` counts experiments.

    >>> items_name("cell_type"), items_name("lipid")
    ('cell_types', 'lipids')
    """
    return f"{item}s"


def count_attributes(item: str) -> dict[str, Any]:
    """CF attributes of ``n_<items>``: how many items contributed (``n_experiments`` for genes).

    >>> count_attributes("cell_type")["long_name"]
    'number of cell types contributing'
    """
    if item == layout.EXPERIMENT:
        return attributes("n_experiments")
    words = items_name(item).replace("_", " ")
    return {"long_name": f"number of {words} contributing", "units": "1"}


def item_attributes(attrs: Mapping[str, Any], variable: str, item: str) -> dict[str, Any]:
    """The attributes of a gene analysis' result computed on another item variable.

    The analyses of :mod:`agea_xr.analysis` run unchanged on a cell-type or lipid
    variable (:mod:`agea_xr.analysis.items`); their results then describe that
    variable: "expression energy" becomes its name, a missing value is NaN (not
    the release's ``-1``), an ``n_experiments`` or ``min_experiments`` key counts
    the items (``n_cell_types``), and ``variable`` names what was analysed.

    Parameters
    ----------
    attrs : mapping
        The result's attributes as the gene analysis wrote them.
    variable : str
        The item variable (``density``, ``intensity``).
    item : str
        Its item dimension (``cell_type``, ``lipid``).

    Returns
    -------
    dict

    Examples
    --------
    >>> item_attributes({"long_name": "mean expression energy of the measured voxels",
    ...                  "n_experiments": 8}, "density", "cell_type")
    {'long_name': 'mean density of the measured voxels', 'n_cell_types': 8, 'variable': 'density'}
    """
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, str):
            for old, new in _ON_ITEMS:
                value = value.replace(old, variable if new is None else new)
        if key in ("n_experiments", "min_experiments"):
            key = key.removesuffix("experiments") + items_name(item)
        out[key] = value
    out["variable"] = variable
    return out


def global_attributes(**extra: Any) -> dict[str, Any]:
    """The global attributes of an AGEA dataset: ``title``, ``citation``, ``Conventions``.

    Parameters
    ----------
    **extra
        More attributes (``source``, ``variant``, ...), added after these.

    Returns
    -------
    dict

    Examples
    --------
    >>> attrs = global_attributes(variant="raw")
    >>> attrs["Conventions"], attrs["title"] == TITLE, attrs["variant"]
    ('CF-1.10', True, 'raw')
    """
    return {"title": TITLE, "citation": layout.CITATION, "Conventions": CONVENTIONS, **extra}


def history_entry(text: str, *, now: datetime.datetime | None = None) -> str:
    """One line of the ``history`` attribute: UTC time, agea-xr and its version, what was done.

    Parameters
    ----------
    text : str
        What was done, e.g. ``"export to netCDF"``.
    now : datetime.datetime, optional
        The time to stamp (default: now).

    Returns
    -------
    str

    Examples
    --------
    >>> import datetime
    >>> when = datetime.datetime(2025, 3, 18, 12, 0, tzinfo=datetime.timezone.utc)
    >>> history_entry("export to netCDF", now=when)  # doctest: +ELLIPSIS
    '2025-03-18T12:00:00Z agea-xr ...: export to netCDF'
    """
    now = now or datetime.datetime.now(datetime.UTC)
    stamp = now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{stamp} agea-xr {_version()}: {text}"


def _version() -> str:
    """The installed agea-xr version (from its metadata: no import of the package)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("agea-xr")
    except PackageNotFoundError:
        return "(version unknown)"


#: Attributes that earlier versions wrote and CF does not allow where they were.
_INVALID = {
    **{dim: {"standard_name"} for dim in layout.GRID_DIMS},
    "label": {"units"},
}
#: Attributes kept in memory but not written: ``axis`` X/Y would claim longitude
#: and latitude in a file (see the module's notes).
_NOT_WRITTEN = {layout.ML: {"axis"}, layout.AP: {"axis"}}


def update_attributes(ds: xr.Dataset, history: str | None = None) -> xr.Dataset:
    """A shallow copy of ``ds`` with the CF attributes of the table and a ``history`` entry.

    Every variable and coordinate named in :data:`ATTRIBUTES` (or a grid
    coordinate) gets the table's attributes it lacks, unless it has a
    ``long_name`` of its own (a user's variable that happens to share a name is
    left alone); others get a ``long_name`` (their name). Attributes CF does
    not allow where earlier versions put them are removed (a
    ``projection_*_coordinate`` standard name on the grid, ``units`` on
    ``label``), and so is ``axis`` of ``ml`` and ``ap`` (longitude and
    latitude in a file; :func:`restore_attributes` puts them back when a file
    is read). The dataset gets ``Conventions``, and ``history`` is prepended
    to any it had (newest first, one line per entry).

    Parameters
    ----------
    ds : xarray.Dataset
    history : str, optional
        What is being done, stamped by :func:`history_entry`.

    Returns
    -------
    xarray.Dataset
        Values and encodings untouched; ``ds`` itself is not changed.

    Examples
    --------
    >>> import agea_xr
    >>> out = update_attributes(agea_xr.open_sample(), history="export to netCDF")
    >>> out.attrs["Conventions"], out.attrs["history"].endswith(": export to netCDF")
    ('CF-1.10', True)
    >>> "units" in out.label.attrs, "axis" in out.ml.attrs, out.dv.attrs["axis"]
    (False, False, 'Z')
    """
    out = ds.copy(deep=False)
    for name in out.variables:
        variable = out[name].variable
        attrs = dict(variable.attrs)
        if name in _INVALID:
            for key in _INVALID[name]:
                if key != "standard_name" or "projection" in str(attrs.get(key, "")):
                    attrs.pop(key, None)
        known = COORD_ATTRS.get(name) or ATTRIBUTES.get(name)
        if known is not None and attrs.get("long_name", known["long_name"]) == known["long_name"]:
            for key, value in attributes(name).items():
                attrs.setdefault(key, value)
        attrs.setdefault("long_name", str(name))
        for key in _NOT_WRITTEN.get(name, ()):
            attrs.pop(key, None)
        variable.attrs = attrs
    attrs = dict(ds.attrs)
    attrs["Conventions"] = CONVENTIONS
    if history:
        entries = [history_entry(history)]
        if attrs.get("history"):
            entries.append(str(attrs["history"]))
        attrs["history"] = "\n".join(entries)
    out.attrs = attrs
    return out


def restore_attributes(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` read from a file, with the grid attributes files do not hold (``axis``).

    Parameters
    ----------
    ds : xarray.Dataset
        As read from an export.

    Returns
    -------
    xarray.Dataset
        A shallow copy whose grid coordinates have the attributes of
        :data:`COORD_ATTRS` they lack.

    Examples
    --------
    >>> import xarray as xr
    >>> restore_attributes(xr.Dataset(coords={"ml": [0.0]})).ml.attrs["axis"]
    'X'
    """
    out = ds.copy(deep=False)
    for name in COORD_ATTRS:
        if name in out.variables:
            variable = out[name].variable
            variable.attrs = {**attributes(name), **variable.attrs}
    return out
