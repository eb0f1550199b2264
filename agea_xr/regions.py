"""The iblatlas bridge: region tables, label conversions and mappings.

All region knowledge comes from :class:`iblatlas.regions.BrainRegions`, which
ships its tables and works offline. It is imported inside the functions that
need it and built once per process.

Conventions (those of iblatlas): a *label* volume holds **indices** into
``BrainRegions().id`` (0 = void); a *region id* is an Allen structure id,
negative in the left hemisphere for lateralised (``-lr``) mappings. A mapping
name (``Allen``, ``Beryl``, ``Cosmos``, ``Swanson``, each also ``-lr``) turns
an index into the index of the region it belongs to at that level.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np
import pandas as pd
import xarray as xr

from .gene_index import close_matches
from .layout import GRID_DIMS, GRID_SHAPE, LEFT_ML_MAX_INDEX, ML

__all__ = [
    "HEMISPHERES",
    "MAPPINGS",
    "brain_regions",
    "check_mapping",
    "label_from_allen_ids",
    "label_of",
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


@functools.cache
def brain_regions():
    """The process-wide :class:`iblatlas.regions.BrainRegions` (built once, offline).

    Returns
    -------
    iblatlas.regions.BrainRegions
    """
    from iblatlas.regions import BrainRegions

    return BrainRegions()


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
    if mapping in MAPPINGS:
        return mapping
    lowered = {m.lower(): m for m in MAPPINGS}
    if isinstance(mapping, str) and mapping.lower() in lowered:
        return lowered[mapping.lower()]
    near = close_matches(str(mapping), MAPPINGS, n=2)
    hint = f" Did you mean {' or '.join(map(repr, near))}?" if near else ""
    raise ValueError(
        f"Unknown region mapping {mapping!r}: choose one of {', '.join(MAPPINGS)}.{hint}"
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
    """
    br = brain_regions()
    return br.mappings[check_mapping(mapping)][np.asarray(label)]


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
    br = brain_regions()
    signed = annotation.astype(np.int64)
    if lateralise:
        left = np.arange(GRID_SHAPE[0]) <= LEFT_ML_MAX_INDEX
        signed[left] *= -1
    order = np.argsort(br.id, kind="stable")
    pos = np.searchsorted(br.id[order], signed)
    pos = np.clip(pos, 0, br.id.size - 1)
    found = br.id[order][pos] == signed
    if not found.all():
        unknown = np.unique(np.abs(signed[~found]))
        raise ValueError(
            f"{unknown.size} structure id(s) are unknown to iblatlas BrainRegions, e.g. "
            f"{unknown[:5].tolist()}: is this an Allen CCF annotation?"
        )
    return order[pos].astype(np.int16)


# --- region tables, volumes and masks on xarray objects ------------------------------
#: Hemisphere names accepted by :func:`region_mask` (None: both).
HEMISPHERES = ("left", "right")


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


def label_of(obj: xr.Dataset | xr.DataArray) -> xr.DataArray:
    """The region label volume of a dataset or of a DataArray that carries it.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        A Dataset with a ``label`` variable (``label.npy``), or a DataArray with a
        ``label`` coordinate (e.g. the result of ``ds.agea.gene(...)``).

    Returns
    -------
    xarray.DataArray
        Integer indices into ``BrainRegions().id``, dims ``(ml, dv, ap)``.

    Raises
    ------
    ValueError
        If there is no label: the message tells how to get one.

    Examples
    --------
    >>> import agea_xr
    >>> label_of(agea_xr.open_sample()).dims
    ('ml', 'dv', 'ap')
    """
    if isinstance(obj, xr.Dataset):
        if "label" not in obj.variables:
            raise ValueError(
                "This dataset has no 'label' volume (label.npy), so it has no brain regions: "
                "open a release folder that holds label.npy (agea_xr.download() fetches it)."
            )
        label = obj["label"]
    elif "label" in obj.coords:
        label = obj.coords["label"]
    else:
        name = obj.name if obj.name is not None else "this DataArray"
        raise ValueError(
            f"{name!r} has no 'label' coordinate, and brain regions need the label volume. "
            "Call the method on the Dataset instead (ds.agea...., e.g. "
            "ds.agea.region_mask('CA1')), or attach the label first: "
            "da.assign_coords(label=ds.label)."
        )
    if label.dtype.kind not in "iu":
        raise ValueError(
            f"The label volume has dtype {label.dtype}: it must hold integer indices into "
            "iblatlas BrainRegions().id (label.npy)."
        )
    missing = [d for d in GRID_DIMS if d not in label.dims]
    if missing:
        raise ValueError(
            f"The label volume has dims {label.dims}, without {missing}: region tools need "
            f"the three spatial dims {GRID_DIMS} (select ranges, not single planes)."
        )
    return label.reset_coords(drop=True).transpose(*GRID_DIMS)


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
    br = brain_regions()
    single = isinstance(regions, str) or not isinstance(regions, Iterable)
    items = [regions] if single else list(regions)
    if not items:
        raise ValueError("No region given: pass an acronym, an Allen id, or a list of them.")
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(_positive_id(item))
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if not np.any(br.id == int(item)):
                raise KeyError(
                    f"Unknown brain region id {item!r}: it is not an Allen structure id known "
                    "to iblatlas BrainRegions. List them with agea_xr.region_table()."
                )
            out.append(int(item))
        else:
            raise TypeError(
                f"A region must be an acronym (str) or an Allen structure id (int), got "
                f"{item!r} of type {type(item).__name__}."
            )
    return np.asarray(out, dtype=np.int64)


def _check_resolvable(region_id: int, mapping: str) -> None:
    """Raise if ``region_id`` lies below the level of ``mapping`` (its mask would be empty)."""
    br = brain_regions()
    mapped = np.unique(np.abs(br.id[br.mappings[mapping]]))
    wanted = np.abs(br.descendants(abs(region_id)).id)
    if np.isin(wanted, mapped).any():
        return
    index = np.flatnonzero(br.id == abs(region_id))[0]
    parent = br.acronym[br.mappings[mapping][index]]
    acronym = br.acronym[index]
    raise ValueError(
        f"Region {acronym!r} (id {region_id}) is finer than the {mapping} mapping, where it "
        f"is part of {parent!r}: its mask would be empty. Use mapping='Allen', or ask for "
        f"{parent!r}."
    )


def _side(label: xr.DataArray, hemisphere: str | None) -> np.ndarray:
    """Voxels of one hemisphere (broadcastable to the label), decided by position."""
    if hemisphere is None:
        return np.ones((label.sizes[ML], 1, 1), dtype=bool)
    if hemisphere not in HEMISPHERES:
        raise ValueError(
            f"Unknown hemisphere {hemisphere!r}: choose 'left' (x < 0, i_ml <= "
            f"{LEFT_ML_MAX_INDEX}), 'right' (x > 0) or None (both)."
        )
    ml = np.asarray(label[ML])
    return (ml < 0 if hemisphere == "left" else ml > 0)[:, None, None]


def region_mask(
    obj: xr.Dataset | xr.DataArray,
    regions: str | int | Iterable[str | int],
    mapping: str = "Allen",
    hemisphere: str | None = None,
) -> xr.DataArray:
    """Boolean volume of the voxels in one or several regions, descendants included.

    A voxel is in the mask when its region id under ``mapping`` is one of the
    asked regions or one of their descendants in the Allen hierarchy
    (iblatlas ``BrainRegions.descendants``). Hemispheres are decided by
    position, not by the sign of the label's ids: left is x < 0 (``i_ml <= 28``).

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
        region is finer than the mapping (its mask would always be empty).

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
    """
    mapping = check_mapping(mapping)
    label = label_of(obj)
    side = _side(label, hemisphere)
    br = brain_regions()
    ids = resolve_regions(regions)
    voxel_ids = np.abs(region_ids(label.values, mapping))
    left = _side(label, "left")
    mask = np.zeros(label.shape, dtype=bool)
    for region_id in ids:
        _check_resolvable(int(region_id), mapping)
        wanted = np.abs(br.descendants(abs(int(region_id))).id)
        inside = np.isin(voxel_ids, wanted)
        if region_id < 0:
            inside &= left
        mask |= inside
    return xr.DataArray(
        mask & side,
        coords=label.coords,
        dims=label.dims,
        name="region_mask",
        attrs={
            "long_name": "voxels in " + ", ".join(map(str, _names(ids))),
            "mapping": mapping,
            "hemisphere": hemisphere or "both",
        },
    )


def _names(ids: np.ndarray) -> list[str]:
    br = brain_regions()
    index = {int(i): k for k, i in enumerate(br.id)}
    return [str(br.acronym[index[int(i)]]) + (" (left)" if i < 0 else "") for i in ids]


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
