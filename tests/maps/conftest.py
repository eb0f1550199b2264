"""Own-map fixtures: the real Allen grid annotation, upsampled as Allen lays out the CCF."""

from __future__ import annotations

import numpy as np
import pytest

from agea_xr.allen import read_annotation

#: Voxels of a CCF volume per 200 um voxel, and the CCF shapes (Allen's (ap, dv, ml)).
SHAPES = {25: (528, 320, 456), 50: (264, 160, 228)}


def upsample(grid: np.ndarray, res: int) -> np.ndarray:
    """A (ml, dv, ap) grid volume as a whole CCF volume at ``res`` um, Allen's (ap, dv, ml).

    Independent of the package: CCF voxel j (centred at j * res um) lies in grid voxel
    i when 200 i - 100 <= j * res < 200 i + 100, i.e. the grid repeated r = 200 / res
    times, less its first r / 2 copies.
    """
    r = 200 // res
    allen = grid.transpose(2, 1, 0)
    fine = allen.repeat(r, 0).repeat(r, 1).repeat(r, 2)[r // 2 :, r // 2 :, r // 2 :]
    shape = SHAPES[res]
    return np.ascontiguousarray(fine[: shape[0], : shape[1], : shape[2]])


@pytest.fixture(scope="session")
def annotation(allen_dir) -> np.ndarray:
    """The real Allen grid annotation, uint32 Allen ids (ml, dv, ap)."""
    return read_annotation(allen_dir / "P56_Mouse_gridAnnotation.zip")


@pytest.fixture(scope="session")
def codes(annotation) -> np.ndarray:
    """The annotation as uint16 codes (649 structures): a quarter of the memory of ids."""
    _, inverse = np.unique(annotation, return_inverse=True)
    return inverse.reshape(annotation.shape).astype(np.uint16)


@pytest.fixture(scope="module")
def fine25(codes) -> np.ndarray:
    """The annotation codes at 25 um in Allen's layout (154 MB, one per test module)."""
    return upsample(codes, 25)


@pytest.fixture(scope="session")
def left_map(annotation) -> np.ndarray:
    """A unilateral map: 1 in the brain's left hemisphere (i_ml <= 28), 0 elsewhere."""
    out = np.zeros(annotation.shape, dtype=np.float32)
    out[:29] = (annotation[:29] != 0).astype(np.float32)
    return out
