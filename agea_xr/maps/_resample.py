"""A CCF volume onto the AGEA grid: the mean (NaN-aware) or the mode of the finer voxels.

Each 200 µm voxel gets the finer voxels whose centres lie inside it
(:func:`agea_xr.spaces.grid_index_of_ccf`): ``(200 / r)³`` of them at resolution ``r``
for a volume that covers it, fewer at the edges of a volume or of its measured part.
The orientation of the array is brought to the grid's by brainglobe-space
(``AnatomicalSpace.map_stack_to``: a transposed, flipped view, not a copy); the array is
then reduced one slab of grid planes at a time, so a 10 µm volume (1.2 billion voxels)
never has a float64 copy in memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..layout import GRID_DIMS, GRID_SHAPE, RESOLUTION_UM
from ..spaces import GRID_ORIENTATION, Placement, grid_index_of_ccf, other_space_message

__all__ = ["KINDS", "mode_of_rows", "to_grid"]

#: What a map holds: a quantity (mean), region labels (mode), or a boolean mask.
KINDS = ("continuous", "labels", "mask")


def mode_of_rows(values: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The most frequent valid value of each row (ties: the smallest value).

    Parameters
    ----------
    values : numpy.ndarray, (rows, k), integer
    valid : numpy.ndarray, (rows, k), bool
        Which entries count.

    Returns
    -------
    mode : numpy.ndarray, (rows,)
        0 where a row has no valid entry.
    count : numpy.ndarray, (rows,)
        Valid entries of each row.

    Examples
    --------
    >>> import numpy as np
    >>> v = np.array([[3, 1, 3, 1, 2], [5, 5, 7, 7, 7]])
    >>> mode_of_rows(v, np.ones_like(v, dtype=bool))[0].tolist()
    [1, 7]
    """
    values = np.asarray(values)
    count = valid.sum(axis=1)
    if values.shape[1] == 0:
        return np.zeros(values.shape[0], dtype=values.dtype), count
    # rows of one value (most of a brain) need no sorting
    first = values[np.arange(values.shape[0]), valid.argmax(axis=1)]
    uniform = (~valid | (values == first[:, None])).all(axis=1)
    if uniform.all():
        return np.where(count > 0, first, 0).astype(values.dtype), count
    mode = np.where(count > 0, first, 0).astype(values.dtype)
    rest = ~uniform
    mode[rest] = _sorted_mode(values[rest], valid[rest])
    return mode, count


def _sorted_mode(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    count = valid.sum(axis=1)
    # invalid entries sort first under a key one below the smallest value
    key = values.astype(np.int64)
    low = key.min(initial=0) - 1
    key = np.where(valid, key, low)
    key.sort(axis=1)
    k = key.shape[1]
    change = np.ones(key.shape, dtype=bool)
    change[:, 1:] = key[:, 1:] != key[:, :-1]
    position = np.broadcast_to(np.arange(k), key.shape)
    run_start = np.maximum.accumulate(np.where(change, position, 0), axis=1)
    length = position - run_start + 1
    length[key == low] = 0
    best = length.argmax(axis=1)
    mode = key[np.arange(key.shape[0]), best]
    return np.where(count > 0, mode, 0).astype(values.dtype)


def _axis_blocks(start: float, step: float, n: int, n_grid: int):
    """Padding and grid span of one axis: fine voxels -> whole blocks of ``r``."""
    ratio = RESOLUTION_UM / step
    r = round(ratio)
    if r < 1 or abs(ratio - r) > 1e-6:
        raise ValueError(
            other_space_message(
                f"Its voxels are {step:g} um: only sizes that divide 200 um (10, 25, 50, "
                "100, 200 um) go onto the AGEA grid."
            )
        )
    first = int(grid_index_of_ccf(start))
    # finer voxels of the first block before index 0 (positions as noisy as float32 affines)
    before = int(np.floor((start - (first * RESOLUTION_UM - RESOLUTION_UM / 2) + 1e-2) / step))
    blocks = -(-(before + n) // r)
    after = blocks * r - before - n
    # grid indices first .. first + blocks - 1, kept where inside 0 .. n_grid - 1
    keep = slice(max(0, -first), min(blocks, n_grid - first))
    target = slice(first + keep.start, first + keep.stop)
    return r, before, after, keep, target


def to_grid(array: Any, placement: Placement, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Resample a CCF array onto the AGEA grid.

    Parameters
    ----------
    array : array-like, 3-D
        Numpy array, memmap, or anything numpy can read slices of.
    placement : Placement
        Where its voxels lie (:mod:`agea_xr.spaces`).
    kind : {"continuous", "labels", "mask"}
        Mean of the finite finer voxels, mode of the labels (0 left out only where no
        finer voxel is inside), or the fraction of a boolean mask that is True, as a
        mean.

    Returns
    -------
    values : numpy.ndarray
        (ml, dv, ap) = (58, 41, 67): float32 (continuous, mask: the fraction True), or
        the array's integer dtype (labels, 0 where nothing is inside).
    coverage : numpy.ndarray
        float32 (58, 41, 67): fraction of each 200 µm voxel covered by finite finer
        voxels (labels: by any finer voxel).

    Raises
    ------
    ValueError
        For voxel sizes that do not divide 200 µm.
    """
    from brainglobe_space import AnatomicalSpace

    array = np.asanyarray(array) if not hasattr(array, "shape") else array
    view = AnatomicalSpace(placement.orientation).map_stack_to(GRID_ORIENTATION, array)
    order, _, _, _ = AnatomicalSpace(placement.orientation).map_to(GRID_ORIENTATION)
    axes = []
    for target, source in enumerate(order):
        lo, _ = placement.extent_um()[GRID_DIMS[target]]
        axes.append(
            _axis_blocks(
                lo, placement.resolution_um[source], view.shape[target], GRID_SHAPE[target]
            )
        )
    labels = kind == "labels"
    if labels and view.dtype.kind not in "iub":
        raise ValueError(
            f"kind='labels' needs integer region ids; this map holds {view.dtype} values. "
            "Use kind='continuous' for a quantity."
        )
    out_dtype = view.dtype if labels else np.float32
    values = np.zeros(GRID_SHAPE, dtype=out_dtype)
    if not labels:
        values[...] = np.nan
    coverage = np.zeros(GRID_SHAPE, dtype=np.float32)
    (r0, b0, a0, k0, t0), (r1, b1, a1, k1, t1), (r2, b2, _, k2, t2) = axes
    cells = r0 * r1 * r2
    # one grid AP plane at a time
    for block in range(k2.start, k2.stop):
        lo = block * r2 - b2
        hi = lo + r2
        slab = np.asarray(view[:, :, max(lo, 0) : min(hi, view.shape[2])])
        pad2 = (max(0, -lo), max(0, hi - view.shape[2]))
        fill = 0 if labels else np.nan
        data = slab if labels else slab.astype(np.float64)
        valid = np.ones(slab.shape, dtype=bool) if labels else np.isfinite(data)
        widths = ((b0, a0), (b1, a1), pad2)
        data = np.pad(data, widths, constant_values=fill)
        valid = np.pad(valid, widths, constant_values=False)
        n0, n1 = data.shape[0] // r0, data.shape[1] // r1
        data = data.reshape(n0, r0, n1, r1, r2)[k0, :, k1]
        valid = valid.reshape(n0, r0, n1, r1, r2)[k0, :, k1]
        count = valid.sum(axis=(1, 3, 4))
        plane = t2.start + block - k2.start
        coverage[t0, t1, plane] = count / cells
        if labels:
            rows = data.transpose(0, 2, 1, 3, 4).reshape(count.size, cells)
            ok = valid.transpose(0, 2, 1, 3, 4).reshape(count.size, cells)
            mode, _ = mode_of_rows(rows, ok)
            values[t0, t1, plane] = mode.reshape(count.shape)
        else:
            total = np.where(valid, data, 0.0).sum(axis=(1, 3, 4))
            with np.errstate(invalid="ignore", divide="ignore"):
                values[t0, t1, plane] = np.where(count > 0, total / count, np.nan)
    return values, coverage
