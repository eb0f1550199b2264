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

import numpy as np

from .gene_index import close_matches
from .layout import GRID_SHAPE, LEFT_ML_MAX_INDEX

__all__ = [
    "MAPPINGS",
    "brain_regions",
    "check_mapping",
    "label_from_allen_ids",
    "region_ids",
    "region_indices",
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
