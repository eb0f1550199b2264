"""Region volumes, masks and selections on xarray objects."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import xarray as xr

from .._choices import close_matches
from ..bridge import brain_regions, label_of
from ..layout import GRID_DIMS
from ._hemispheres import hemisphere_mask, is_left
from ._ids import check_mapping, index_of_ids, region_ids

__all__ = ["region_mask", "region_volume", "resolve_regions", "sel_region"]


def region_volume(obj: xr.Dataset | xr.DataArray, mapping: str = "Allen") -> xr.DataArray:
    """The region id of every voxel, under a mapping.

    Equal to iblatlas ``BrainAtlas.get_labels(xyz, mapping=mapping)`` at every
    voxel centre of the atlas built by :func:`agea_xr.bridge.to_brain_atlas`.

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
                out[name] = var.where(mask).variable  # no coordinates to merge
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
