"""Brain regions: mappings, region ids, tables, masks and hemispheres of a label volume.

All region knowledge comes from :class:`iblatlas.regions.BrainRegions`, which
ships its tables and works offline; :mod:`agea_xr.bridge` builds it once per
process (:func:`agea_xr.bridge.brain_regions`) and reads the label volume of a
dataset (:func:`agea_xr.bridge.label_of`).

Conventions (those of iblatlas): a *label* volume holds **indices** into
``BrainRegions().id`` (0 = void); a *region id* is an Allen structure id,
negative in the left hemisphere for lateralised (``-lr``) mappings. A mapping
name (``Allen``, ``Beryl``, ``Cosmos``, ``Swanson``, each also ``-lr``) turns
an index into the index of the region it belongs to at that level. Hemispheres
are decided by position, never by the sign of an id: left is x < 0
(:func:`is_left`, :func:`hemisphere_mask`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ._choices import check_choice, close_matches
from .bridge import brain_regions, label_of
from .layout import GRID_DIMS, GRID_SHAPE, LEFT_ML_MAX_INDEX, ML
from .release import check_label

__all__ = [
    "HEMISPHERES",
    "MAPPINGS",
    "check_mapping",
    "hemisphere_mask",
    "index_of_ids",
    "is_left",
    "label_from_allen_ids",
    "region_ids",
    "region_indices",
    "region_mask",
    "region_table",
    "region_volume",
    "resolve_regions",
    "sel_region",
]

#: Mapping names iblatlas knows.
MAPPINGS = (
    "Allen",
    "Allen-lr",
    "Beryl",
    "Beryl-lr",
    "Cosmos",
    "Cosmos-lr",
    "Swanson",
    "Swanson-lr",
)


def check_mapping(mapping: str) -> str:
    """Validate a mapping name.

    Parameters
    ----------
    mapping : str
        ``Allen``, ``Beryl``, ``Cosmos``, ``Swanson``, or one of them with ``-lr``.

    Returns
    -------
    str
        The mapping name, as iblatlas spells it.

    Raises
    ------
    ValueError
        For an unknown mapping, naming the valid ones and the closest match.
    """
    lowered = {m.lower(): m for m in MAPPINGS}
    if isinstance(mapping, str) and mapping.lower() in lowered:
        return lowered[mapping.lower()]
    return check_choice(
        mapping,
        MAPPINGS,
        "region mapping",
        "'-lr' mappings give left-hemisphere regions negative ids; list a mapping's regions "
        "with agea_xr.region_table(mapping).",
    )


def region_indices(label: np.ndarray, mapping: str = "Allen") -> np.ndarray:
    """Map a label volume (BrainRegions indices) to the indices of a mapping.

    Parameters
    ----------
    label : numpy.ndarray
        Integer indices into ``BrainRegions().id``.
    mapping : str, default "Allen"
        See :data:`MAPPINGS`.

    Returns
    -------
    numpy.ndarray
        Indices into ``BrainRegions().id`` of the same shape.

    Raises
    ------
    ValueError
        For an unknown mapping, or label values that are not indices into
        ``BrainRegions().id`` (negative, or Allen structure ids: see
        :func:`label_from_allen_ids`), which numpy would otherwise wrap or refuse.
    """
    mapping = check_mapping(mapping)
    label = np.asarray(label)
    if label.dtype.kind not in "iu":
        raise ValueError(
            f"A label volume holds integer indices into iblatlas BrainRegions().id, got dtype "
            f"{label.dtype}."
        )
    check_label(label, "The label volume")
    return brain_regions().mappings[mapping][label]


def region_ids(label: np.ndarray, mapping: str = "Allen") -> np.ndarray:
    """Region ids of every voxel of a label volume, under a mapping.

    Exactly what ``BrainAtlas.get_labels`` returns for the voxel centres.

    Parameters
    ----------
    label : numpy.ndarray
        Integer indices into ``BrainRegions().id``.
    mapping : str, default "Allen"
        See :data:`MAPPINGS`; non-lateralised mappings give positive ids in both
        hemispheres, ``-lr`` mappings negative ids on the left.

    Returns
    -------
    numpy.ndarray
        int64 Allen structure ids (0 = void), same shape as ``label``.
    """
    br = brain_regions()
    return br.id[region_indices(label, mapping)].astype(np.int64)


def label_from_allen_ids(annotation: np.ndarray, lateralise: bool = True) -> np.ndarray:
    """Convert a volume of Allen structure ids into an iblatlas label volume.

    This is how iblatlas' ``label.npy`` encodes regions: indices into
    ``BrainRegions().id``, left-hemisphere voxels (``i_ml <= 28``, x < 0)
    pointing at the negative (left) ids.

    Parameters
    ----------
    annotation : numpy.ndarray
        Allen structure ids (0 outside the brain), shape (58, 41, 67), e.g. the
        Allen ``gridAnnotation``.
    lateralise : bool, default True
        Point left-hemisphere voxels at negative ids.

    Returns
    -------
    numpy.ndarray
        int16 indices into ``BrainRegions().id``.

    Raises
    ------
    ValueError
        If the volume has another shape or holds ids iblatlas does not know.
    """
    annotation = np.asarray(annotation)
    if annotation.shape != GRID_SHAPE:
        raise ValueError(f"Annotation shape {annotation.shape} is not the AGEA grid {GRID_SHAPE}.")
    signed = _whole_ids(annotation, "The annotation").copy()
    if lateralise:
        signed[is_left(signed)] *= -1
    try:
        index = index_of_ids(signed)
    except ValueError as err:
        raise ValueError(f"{err} Is this an Allen CCF annotation?") from None
    return index.astype(np.int16)


def _whole_ids(ids: Any, what: str) -> np.ndarray:
    """``ids`` as int64, refusing fractional or non-numeric values (no silent truncation)."""
    values = np.asarray(ids)
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    if values.dtype.kind != "f" or not np.isfinite(values).all():
        raise ValueError(
            f"{what} must hold integer Allen structure ids, got dtype {values.dtype}."
        )
    whole = np.round(values)
    if not np.array_equal(whole, values):
        bad = values[whole != values]
        raise ValueError(
            f"{what} must hold whole Allen structure ids, got {bad.size} fractional value(s), "
            f"e.g. {bad[:3].tolist()}."
        )
    return whole.astype(np.int64)


@functools.cache
def _ids_sorted() -> tuple[np.ndarray, np.ndarray]:
    """BrainRegions positions in id order, and the ids in that order (built once)."""
    ids = brain_regions().id
    order = np.argsort(ids, kind="stable")
    return order, ids[order]


def index_of_ids(ids: Any) -> np.ndarray:
    """Positions in ``BrainRegions().id`` of Allen structure ids: the one id -> index lookup.

    The inverse of ``BrainRegions().id[index]``; what a label volume holds for
    each id (a negative id is the left-hemisphere copy of a region).

    Parameters
    ----------
    ids : int or array-like of int
        Allen structure ids (0 = void), any shape.

    Returns
    -------
    numpy.ndarray
        int64 indices, same shape as ``ids``.

    Raises
    ------
    ValueError
        For ids iblatlas' BrainRegions does not know (naming them, with how to list
        the known ones), or fractional values.

    Examples
    --------
    >>> index = index_of_ids([672, -672, 0])
    >>> brain_regions().acronym[index].tolist()
    ['CP', 'CP', 'void']
    >>> brain_regions().id[index].tolist()
    [672, -672, 0]
    """
    values = _whole_ids(ids, "ids")
    order, sorted_ids = _ids_sorted()
    pos = np.clip(np.searchsorted(sorted_ids, values), 0, sorted_ids.size - 1)
    found = sorted_ids[pos] == values
    if not found.all():
        unknown = np.unique(values[~found])
        raise ValueError(
            f"{unknown.size} structure id(s) are unknown to iblatlas BrainRegions, e.g. "
            f"{unknown[:5].tolist()}. Known ids (negative: the left copy) are listed by "
            "agea_xr.region_table('Allen-lr')."
        )
    return order[pos].astype(np.int64)


# --- hemispheres, by position ---------------------------------------------------------
#: Hemisphere names accepted by :func:`hemisphere_mask` and :func:`region_mask` (None: both).
HEMISPHERES = ("left", "right")
_HEMISPHERE_HINT = (
    f"'left' is x < 0 (i_ml <= {LEFT_ML_MAX_INDEX}), 'right' x > 0, None both hemispheres."
)


def is_left(obj: Any) -> np.ndarray:
    """Voxels of the left hemisphere, by position (x < 0): the one hemisphere rule.

    Never decided by the sign of a label's ids: a non-lateralised label, or one
    whose ids were flipped, still splits at the midline.

    Parameters
    ----------
    obj : xarray.Dataset, xarray.DataArray or numpy.ndarray
        An xarray object with the ``ml`` dimension (any selection of the grid; its
        ``ml`` coordinate decides), or a numpy volume of the whole grid, shape
        (58, 41, 67) (``i_ml <= 28`` is left).

    Returns
    -------
    numpy.ndarray
        bool, shape ``(ml, dv, ap)`` of ``obj`` (size 1 along a dim it lacks),
        read-only (a broadcast view).

    Raises
    ------
    ValueError
        Without an ``ml`` dimension, or for a numpy array not of the grid's shape.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> left = is_left(ds)
    >>> left.shape, bool(left[28].all()), bool(left[29].any())
    ((58, 41, 67), True, False)
    """
    if isinstance(obj, (xr.Dataset, xr.DataArray)):
        if ML not in obj.dims:
            raise ValueError(
                f"Hemispheres are decided by the 'ml' coordinate, which this object lacks as "
                f"a dimension (dims {tuple(obj.dims)})."
            )
        left = np.asarray(obj[ML].values, dtype=np.float64) < 0
        shape = tuple(obj.sizes.get(d, 1) for d in GRID_DIMS)
    else:
        shape = np.shape(obj)
        if shape != GRID_SHAPE:
            raise ValueError(
                f"A numpy volume must cover the whole AGEA grid {GRID_SHAPE} (ml, dv, ap) for "
                f"its hemispheres to be known by position, got shape {shape}; pass an xarray "
                "object with its ml coordinate instead."
            )
        left = np.arange(GRID_SHAPE[0]) <= LEFT_ML_MAX_INDEX
    return np.broadcast_to(left[:, None, None], shape)


def hemisphere_mask(obj: Any, hemisphere: str | None) -> np.ndarray:
    """Voxels of one hemisphere (or both), by position, as :func:`is_left` decides.

    Parameters
    ----------
    obj : xarray.Dataset, xarray.DataArray or numpy.ndarray
        As for :func:`is_left`.
    hemisphere : {None, "left", "right"}
        None: every voxel.

    Returns
    -------
    numpy.ndarray
        bool, shape ``(ml, dv, ap)`` of ``obj``, read-only.

    Raises
    ------
    ValueError
        For an unknown hemisphere (with the closest name), or as :func:`is_left`.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> int(hemisphere_mask(ds, "right")[:, 0, 0].sum()), int(hemisphere_mask(ds, None).sum())
    (29, 159326)
    """
    hemisphere = check_choice(hemisphere, (None, *HEMISPHERES), "hemisphere", _HEMISPHERE_HINT)
    left = is_left(obj)
    if hemisphere is None:
        return np.broadcast_to(np.True_, left.shape)
    if hemisphere == "left":
        return left
    out = ~left
    out.flags.writeable = False
    return out


# --- region tables, volumes and masks on xarray objects ------------------------------


def region_table(mapping: str = "Allen") -> pd.DataFrame:
    """The regions of a mapping: id, acronym, name, colour, level and parent.

    Parameters
    ----------
    mapping : str, default "Allen"
        See :data:`MAPPINGS`. Non-lateralised mappings list positive ids only;
        ``-lr`` mappings also list the left-hemisphere (negative) ids.

    Returns
    -------
    pandas.DataFrame
        One row per region the mapping can assign (``void``, id 0, and ``root``,
        id 997, included), in iblatlas order, with columns ``id`` (int64),
        ``acronym``, ``name``, ``rgb`` (tuple of three 0-255 ints), ``level``
        (depth in the Allen hierarchy) and ``parent`` (parent id, 0 for the
        top of the tree).

    Raises
    ------
    ValueError
        For an unknown mapping.

    Examples
    --------
    >>> table = region_table("Cosmos")
    >>> table.set_index("id").loc[1089, ["acronym", "name"]].tolist()
    ['HPF', 'Hippocampal formation']
    """
    br = brain_regions()
    index = np.unique(br.mappings[check_mapping(mapping)])
    parent = np.nan_to_num(br.parent[index].astype(np.float64), nan=0.0).astype(np.int64)
    return pd.DataFrame(
        {
            "id": br.id[index].astype(np.int64),
            "acronym": br.acronym[index].astype(str),
            "name": br.name[index].astype(str),
            "rgb": [tuple(int(c) for c in rgb) for rgb in br.rgb[index]],
            "level": br.level[index].astype(np.int64),
            "parent": parent,
        }
    )


def region_volume(obj: xr.Dataset | xr.DataArray, mapping: str = "Allen") -> xr.DataArray:
    """The region id of every voxel, under a mapping.

    Equal to iblatlas ``BrainAtlas.get_labels(xyz, mapping=mapping)`` at every
    voxel centre of the atlas built by :func:`agea_xr.points.to_brain_atlas`.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        See :func:`label_of`.
    mapping : str, default "Allen"
        See :data:`MAPPINGS`. ``-lr`` mappings give negative ids where the label
        points at left-hemisphere regions.

    Returns
    -------
    xarray.DataArray
        int64 Allen structure ids (0 = void), dims ``(ml, dv, ap)``, named
        ``region``; ``attrs["mapping"]`` names the mapping.

    Raises
    ------
    ValueError
        If there is no label volume or the mapping is unknown.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> ids = region_volume(ds, "Cosmos")
    >>> int(ids.sel(ml=1.5e-3, dv=-2.0e-3, ap=-2.0e-3, method="nearest"))
    1089
    """
    mapping = check_mapping(mapping)
    label = label_of(obj)
    return xr.DataArray(
        region_ids(label.values, mapping),
        coords=label.coords,
        dims=label.dims,
        name="region",
        attrs={
            "long_name": f"brain region id ({mapping} mapping)",
            "mapping": mapping,
            "comment": "Allen structure ids; 0 = void; region_table(mapping) names them.",
        },
    )


def _positive_id(acronym: str) -> int:
    br = brain_regions()
    hits = np.flatnonzero((br.acronym == acronym) & (br.id >= 0))
    if hits.size == 0:
        known = br.acronym[br.id >= 0].astype(str)
        near = close_matches(acronym, known)
        hint = f" Closest matches: {', '.join(near)}." if near else ""
        raise KeyError(
            f"Unknown brain region acronym {acronym!r}.{hint} Acronyms are case-sensitive "
            "Allen CCF acronyms (e.g. 'CA1', 'VISp', 'CP'); list them with "
            "agea_xr.region_table()."
        )
    return int(br.id[hits[0]])


def resolve_regions(regions: str | int | Iterable[str | int]) -> np.ndarray:
    """Turn acronyms and/or Allen ids into region ids.

    Parameters
    ----------
    regions : str, int or iterable of them
        Acronyms (``"CA1"``, case-sensitive) give positive ids; ids are kept
        as given (a negative id is the left-hemisphere copy of a region).

    Returns
    -------
    numpy.ndarray
        int64 ids, in the order given.

    Raises
    ------
    KeyError
        For an unknown acronym (with the closest matches) or an id iblatlas does
        not know.
    TypeError
        For anything else than acronyms and integer ids.

    Examples
    --------
    >>> resolve_regions(["CA1", 672]).tolist()
    [382, 672]
    """
    single = isinstance(regions, str) or not isinstance(regions, Iterable)
    items = [regions] if single else list(regions)
    if not items:
        raise ValueError("No region given: pass an acronym, an Allen id, or a list of them.")
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(_positive_id(item))
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            try:
                index_of_ids(int(item))
            except ValueError:
                raise KeyError(
                    f"Unknown brain region id {item!r}: it is not an Allen structure id known "
                    "to iblatlas BrainRegions. List them with agea_xr.region_table()."
                ) from None
            out.append(int(item))
        else:
            raise TypeError(
                f"A region must be an acronym (str) or an Allen structure id (int), got "
                f"{item!r} of type {type(item).__name__}."
            )
    return np.asarray(out, dtype=np.int64)


def _check_resolvable(region_id: int, mapping: str, descendants: bool = True) -> None:
    """Raise if the mask of ``region_id`` under ``mapping`` would be empty on any label."""
    br = brain_regions()
    mapped = np.unique(np.abs(br.id[br.mappings[mapping]]))
    wanted = np.abs(br.descendants(abs(region_id)).id) if descendants else [abs(region_id)]
    if np.isin(wanted, mapped).any():
        return
    index = int(index_of_ids(abs(region_id)))
    parent = br.acronym[br.mappings[mapping][index]]
    acronym = br.acronym[index]
    if not descendants and np.isin(np.abs(br.descendants(abs(region_id)).id), mapped).any():
        raise ValueError(
            f"Region {acronym!r} (id {region_id}) is not a region of the {mapping} mapping: no "
            f"voxel is labelled {acronym!r} itself, only regions inside it. Pass "
            "descendants=True to include them."
        )
    raise ValueError(
        f"Region {acronym!r} (id {region_id}) is finer than the {mapping} mapping, where it "
        f"is part of {parent!r}: its mask would be empty. Use mapping='Allen', or ask for "
        f"{parent!r}."
    )


def region_mask(
    obj: xr.Dataset | xr.DataArray,
    regions: str | int | Iterable[str | int],
    mapping: str = "Allen",
    hemisphere: str | None = None,
    descendants: bool = True,
) -> xr.DataArray:
    """Boolean volume of the voxels in one or several regions, descendants included.

    A voxel is in the mask when its region id under ``mapping`` is one of the
    asked regions or (by default) one of their descendants in the Allen hierarchy
    (iblatlas ``BrainRegions.descendants``). Hemispheres are decided by
    position, not by the sign of the label's ids: left is x < 0 (``i_ml <= 28``,
    :func:`is_left`).

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        See :func:`label_of`.
    regions : str, int or iterable of them
        Acronyms (``"CA1"``) or Allen ids. A positive id (or an acronym) means
        the region in **both** hemispheres, under every mapping, ``-lr`` ones
        included (where the label gives left voxels negative ids: the sign of
        the voxels is ignored); a negative id means that region in the left
        hemisphere only. For the right hemisphere only, pass
        ``hemisphere="right"``.
    mapping : str, default "Allen"
        The mapping the voxels are assigned with (see :data:`MAPPINGS`).
    hemisphere : {None, "left", "right"}, default None
        Restrict the mask to one hemisphere.
    descendants : bool, default True
        Include the regions inside each asked region. False: only the voxels
        whose region under ``mapping`` is exactly the asked one (under ``"Allen"``,
        the voxels labelled with it and not with one of its sub-regions).

    Returns
    -------
    xarray.DataArray
        bool, dims ``(ml, dv, ap)``, named ``region_mask``.

    Raises
    ------
    KeyError
        For an unknown acronym (with close matches) or id.
    ValueError
        If there is no label volume, the mapping or hemisphere is unknown, or a
        region is finer than the mapping, or with ``descendants=False`` not one of
        its regions (its mask would always be empty).

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> mask = region_mask(ds, "CA1")
    >>> int(mask.sum()) == int(region_mask(ds, "CA1", hemisphere="left").sum()
    ...                        + region_mask(ds, "CA1", hemisphere="right").sum())
    True

    Under a lateralised mapping a positive id still means both sides:

    >>> both = region_mask(ds, 672, mapping="Beryl-lr")          # CP, left and right
    >>> bool((both == region_mask(ds, "CP", mapping="Beryl")).all())
    True
    >>> left = region_mask(ds, -672, mapping="Beryl-lr")         # left CP only
    >>> bool((left == (both & (ds.ml < 0))).all())
    True

    Only the voxels labelled CA1 itself, not its layers:

    >>> int(region_mask(ds, "CA1", descendants=False).sum()) < int(mask.sum())
    True
    """
    if not isinstance(descendants, (bool, np.bool_)):
        raise TypeError(f"descendants must be True or False, got {descendants!r}.")
    mapping = check_mapping(mapping)
    label = label_of(obj)
    side = hemisphere_mask(label, hemisphere)
    br = brain_regions()
    ids = resolve_regions(regions)
    voxel_ids = np.abs(region_ids(label.values, mapping))
    left = is_left(label)
    mask = np.zeros(label.shape, dtype=bool)
    for region_id in ids:
        _check_resolvable(int(region_id), mapping, descendants)
        if descendants:
            inside = np.isin(voxel_ids, np.abs(br.descendants(abs(int(region_id))).id))
        else:
            inside = voxel_ids == abs(int(region_id))
        if region_id < 0:
            inside &= left
        mask |= inside
    what = "voxels in " if descendants else "voxels labelled exactly "
    return xr.DataArray(
        mask & side,
        coords=label.coords,
        dims=label.dims,
        name="region_mask",
        attrs={
            "long_name": what + ", ".join(map(str, _names(ids))),
            "mapping": mapping,
            "hemisphere": hemisphere or "both",
        },
    )


def _names(ids: np.ndarray) -> list[str]:
    acronyms = brain_regions().acronym[index_of_ids(ids)]
    return [str(a) + (" (left)" if i < 0 else "") for a, i in zip(acronyms, ids, strict=True)]


def sel_region(
    obj: xr.Dataset | xr.DataArray,
    regions: str | int | Iterable[str | int],
    mapping: str = "Allen",
    hemisphere: str | None = None,
    crop: bool = False,
) -> xr.Dataset | xr.DataArray:
    """The data restricted to one or several regions: NaN outside, optionally cropped.

    Lazy data stay lazy. In a Dataset, real-valued variables with the spatial
    dims (``expression``, ``image``) are masked; the integer ``label`` is kept
    whole so that the regions remain inspectable.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        See :func:`label_of`.
    regions, mapping, hemisphere
        As for :func:`region_mask`.
    crop : bool, default False
        Also cut the data to the bounding box of the mask (along ml, dv and ap).

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        Same type as ``obj``; masked variables become float (NaN outside the region).

    Raises
    ------
    KeyError, ValueError
        As for :func:`region_mask`; ValueError also when the mask is empty and
        ``crop`` is asked.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> ca1 = sel_region(ds, "CA1", crop=True)
    >>> ca1.sizes["ml"] < ds.sizes["ml"]
    True
    """
    mask = region_mask(obj, regions, mapping=mapping, hemisphere=hemisphere)
    if isinstance(obj, xr.Dataset):
        out = obj.copy()
        for name, var in obj.data_vars.items():
            if var.dtype.kind == "f" and set(GRID_DIMS) <= set(var.dims):
                out[name] = var.where(mask)
    else:
        out = obj.where(mask)
    if crop:
        if not bool(mask.any()):
            raise ValueError(
                f"The mask of {mask.attrs['long_name']!r} ({mapping}, hemisphere "
                f"{hemisphere!r}) holds no voxel of this grid, so there is nothing to crop to."
            )
        box = {}
        for axis, dim in enumerate(mask.dims):
            others = tuple(a for a in range(mask.ndim) if a != axis)
            hit = np.flatnonzero(mask.values.any(axis=others))
            box[dim] = slice(int(hit[0]), int(hit[-1]) + 1)
        out = out.isel(box)
    return out
