"""Mappings, region ids and label indices: the one id <-> BrainRegions index lookup.

A *label* volume holds indices into ``BrainRegions().id`` (0 = void); a *region
id* is an Allen structure id, negative for the left copy of a region. A mapping
(``Allen``, ``Beryl``, ``Cosmos``, ``Swanson``, each also ``-lr``) turns an index
into the index of the region it belongs to at that level.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd

from .._choices import check_choice
from ..bridge import brain_regions
from ..layout import GRID_SHAPE
from ..release import check_label
from ._hemispheres import is_left

__all__ = [
    "MAPPINGS",
    "check_mapping",
    "index_of_ids",
    "label_from_allen_ids",
    "region_ids",
    "region_indices",
    "region_table",
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
    TypeError
        For anything but a string (an array, a volume, None), naming the valid ones.
    ValueError
        For an unknown mapping, naming the valid ones and the closest match.
    """
    if not isinstance(mapping, str):
        raise TypeError(
            f"mapping must be the name of a region mapping, one of "
            f"{', '.join(map(repr, MAPPINGS))}; got {_kind_of(mapping)}."
        )
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


def _kind_of(value: object) -> str:
    """A short description of a value for a message (never an array's whole repr)."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{type(value).__name__} with shape {tuple(shape)}"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


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
