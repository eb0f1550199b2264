"""Facts of the IBL release of the Allen Gene Expression Atlas, in one place.

Every file name, shape, dtype, size, hash and geometric constant that the rest of
the package relies on is stated here, and nowhere else. The numbers are those of
the public bucket ``s3://ibl-brain-wide-map-public/atlas/agea/`` and of
``iblatlas.genomics.agea.load_atlas`` (see the package documentation, "The data").

This module imports nothing heavier than numpy.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType
from typing import Final

import numpy as np

from ._choices import check_choice

__all__ = [
    "AP",
    "BREGMA_UM",
    "BUCKET_URL",
    "CITATION",
    "DIMS",
    "DIMS2XYZ",
    "DV",
    "DXYZ",
    "EXPERIMENT",
    "FILES",
    "GRID_SHAPE",
    "IMAGE_FILE",
    "IORIGIN",
    "LABEL_FILE",
    "LEFT_ML_MAX_INDEX",
    "MISSING",
    "ML",
    "NXYZ",
    "N_BRAIN_REGIONS",
    "N_EXPERIMENTS",
    "N_GENES",
    "PINNED",
    "PINNED_VERSION",
    "RAW_DTYPE",
    "RESOLUTION_UM",
    "TABLE_FILE",
    "VARIANTS",
    "VOLUME_BYTES",
    "VOXELS_PER_VOLUME",
    "XYZ0",
    "XYZ2DIMS",
    "XYZ_DIMS",
    "ap_coords",
    "binary_file",
    "coords",
    "dv_coords",
    "ml_coords",
    "nearest_index",
    "newest_version",
]

# --- the grid ----------------------------------------------------------------
EXPERIMENT: Final = "experiment"
ML: Final = "ml"
DV: Final = "dv"
AP: Final = "ap"
#: Dimension order of one raw volume, then of the whole binary.
GRID_DIMS: Final = (ML, DV, AP)
DIMS: Final = (EXPERIMENT, ML, DV, AP)
#: Shape of one volume, (ML, DV, AP), C order.
GRID_SHAPE: Final = (58, 41, 67)
VOXELS_PER_VOLUME: Final = 58 * 41 * 67  # 159,326
#: dtype of the raw binaries: little-endian IEEE half precision.
RAW_DTYPE: Final = np.dtype("<f2")
VOLUME_BYTES: Final = VOXELS_PER_VOLUME * RAW_DTYPE.itemsize  # 318,652
#: Rows of the published table (and volumes of each published binary).
N_EXPERIMENTS: Final = 4345
N_GENES: Final = 4082
#: Value of "no measurement" in the raw volumes (the Allen grid convention).
MISSING: Final = -1.0
#: Rows of ``iblatlas.regions.BrainRegions()`` (both hemispheres): a ``label.npy`` holds
#: indices ``0 <= label < N_BRAIN_REGIONS`` into them (checked against iblatlas in the tests).
N_BRAIN_REGIONS: Final = 2655

# --- geometry (iblatlas convention: metres from bregma, x=ML right+, y=AP anterior+,
# z=DV dorsal+) ------------------------------------------------------------------
RESOLUTION_UM: Final = 200.0
#: Bregma in Allen CCF micrometres, as ``iblatlas.atlas.ALLEN_CCF_LANDMARKS_MLAPDV_UM``.
BREGMA_UM: Final = MappingProxyType({ML: 5739.0, AP: 5400.0, DV: 332.0})
#: Voxels with ``i_ml <= LEFT_ML_MAX_INDEX`` are the left hemisphere (x < 0).
LEFT_ML_MAX_INDEX: Final = 28

# The same geometry in iblatlas' terms, as ``iblatlas.genomics.agea.load_atlas`` builds its
# ``BrainAtlas``: axes in x, y, z order (ml, ap, dv), volumes stored (ml, dv, ap).
#: Dimension name of x, y, z.
XYZ_DIMS: Final = (ML, AP, DV)
#: Voxel size and direction along x, y, z in metres (``dxyz`` of ``load_atlas``).
DXYZ: Final = RESOLUTION_UM / 1e6 * np.array([1, -1, -1])
#: Index of bregma along x, y, z (``iorigin`` of ``load_atlas``).
IORIGIN: Final = np.array([BREGMA_UM[ML], BREGMA_UM[AP], BREGMA_UM[DV]]) / RESOLUTION_UM
#: Coordinates of voxel (0, 0, 0) in metres, with ``BrainAtlas.__init__``'s arithmetic.
XYZ0: Final = -(IORIGIN * DXYZ + 0.0)
#: Number of voxels along x, y, z.
NXYZ: Final = np.array([GRID_SHAPE[0], GRID_SHAPE[2], GRID_SHAPE[1]])
#: Volume axis of each of x, y, z, and the reverse (``xyz2dims``/``dims2xyz`` of ``load_atlas``).
XYZ2DIMS: Final = np.array([0, 2, 1])
DIMS2XYZ: Final = np.array([0, 2, 1])
for _array in (DXYZ, IORIGIN, XYZ0, NXYZ, XYZ2DIMS, DIMS2XYZ):
    _array.flags.writeable = False


def nearest_index(values, dim: str) -> np.ndarray:
    """Whole-grid index of the voxel nearest to coordinates along one axis: THE rule.

    The one nearest-voxel rule of the package, iblatlas' ``BrainCoordinates.x2i``
    (``y2i``, ``z2i``) with the same arithmetic: ``numpy.round((v - x0) / dx)``.
    A point exactly half-way between two voxel centres goes where that floating-point
    quotient rounds (``numpy.round`` rounds an exact .5 to the even index), so every
    lookup of this package picks the voxel iblatlas picks.

    Parameters
    ----------
    values : array-like of float
        Coordinates in metres from bregma along ``dim``.
    dim : {"ml", "ap", "dv"}
        The axis.

    Returns
    -------
    numpy.ndarray
        float64 indices along the whole grid's ``dim`` (NaN stays NaN; indices outside
        ``0 .. n - 1`` are returned as they are, for the caller to refuse or clip).

    Examples
    --------
    AP -2.1 mm and -2.3 mm lie half-way between voxel centres; both go to the even index:

    >>> nearest_index([-2.0e-3, -2.1e-3, -2.3e-3, 5.4e-3], "ap").tolist()
    [37.0, 38.0, 38.0, 0.0]
    """
    axis = XYZ_DIMS.index(dim)
    return np.round((np.asarray(values, dtype=np.float64) - XYZ0[axis]) / DXYZ[axis]) + 0.0


def _voxel_centres(dim: str) -> np.ndarray:
    """Voxel centres along ``dim`` with iblatlas' arithmetic (``BrainCoordinates.i2x``).

    ``i * dx + x0``, bit for bit what ``BrainAtlas.bc.xscale`` (``yscale``, ``zscale``)
    gives for the AGEA atlas, so coordinates taken from iblatlas match exactly.
    """
    axis = XYZ_DIMS.index(dim)
    return np.arange(NXYZ[axis]) * DXYZ[axis] + XYZ0[axis]


def ml_coords() -> np.ndarray:
    """Medio-lateral voxel centres in metres (right positive), increasing.

    Returns
    -------
    numpy.ndarray
        58 float64 values from -5.739e-3 to 5.661e-3.

    Examples
    --------
    >>> ml_coords()[[0, -1]]
    array([-0.005739,  0.005661])
    """
    return _voxel_centres(ML)


def dv_coords() -> np.ndarray:
    """Dorso-ventral voxel centres in metres (dorsal positive), decreasing.

    Returns
    -------
    numpy.ndarray
        41 float64 values from 3.32e-4 to -7.668e-3.

    Examples
    --------
    >>> dv_coords()[[0, -1]]
    array([ 0.000332, -0.007668])
    """
    return _voxel_centres(DV)


def ap_coords() -> np.ndarray:
    """Antero-posterior voxel centres in metres (anterior positive), decreasing.

    Returns
    -------
    numpy.ndarray
        67 float64 values from 5.4e-3 to -7.8e-3.

    Examples
    --------
    >>> ap_coords()[[0, -1]]
    array([ 0.0054, -0.0078])
    """
    return _voxel_centres(AP)


def coords() -> dict[str, np.ndarray]:
    """The three spatial coordinates, keyed by dimension name.

    Returns
    -------
    dict of str to numpy.ndarray
        ``{"ml": ..., "dv": ..., "ap": ...}`` in metres.
    """
    return {ML: ml_coords(), DV: dv_coords(), AP: ap_coords()}


# --- files ---------------------------------------------------------------------
TABLE_FILE: Final = "gene-expression.pqt"
LABEL_FILE: Final = "label.npy"
IMAGE_FILE: Final = "image.npy"
#: Variant name -> binary file name.
VARIANTS: Final = MappingProxyType(
    {"raw": "gene-expression.bin", "processed": "gene-expression-processed.bin"}
)
#: Every file of the release, for listings.
FILES: Final = (TABLE_FILE, LABEL_FILE, IMAGE_FILE, *VARIANTS.values())
#: The version marker is a file named ``<date>.version`` in the release folder.
VERSION_SUFFIX: Final = ".version"


def newest_version(names: Iterable[str]) -> str:
    """The release version named by the newest ``<date>.version`` marker among ``names``.

    The one parser of version markers: a folder, a bucket listing and the cache
    all read their version through it.

    Parameters
    ----------
    names : iterable of str
        File names (other names are ignored).

    Returns
    -------
    str
        The newest date (ISO dates sort as strings), or ``"unknown"`` when no name is
        a marker.

    Examples
    --------
    >>> newest_version(["2024-02-01.version", "2025-03-18.version", "label.npy"])
    '2025-03-18'
    >>> newest_version(["label.npy"])
    'unknown'
    """
    stems = sorted(
        n[: -len(VERSION_SUFFIX)]
        for n in names
        if n.endswith(VERSION_SUFFIX) and len(n) > len(VERSION_SUFFIX)
    )
    return stems[-1] if stems else "unknown"


#: Columns of the parquet table.
TABLE_ID_COLUMN: Final = "id"
TABLE_GENE_COLUMN: Final = "gene"


def binary_file(variant: str) -> str:
    """File name of the expression binary of a variant.

    Parameters
    ----------
    variant : {"raw", "processed"}
        ``"raw"``: the volumes as published by the Allen Institute (``-1`` = no
        measurement); ``"processed"``: hemispheres merged, PPCA-imputed and
        curtaining-corrected by IBL (no missing values).

    Returns
    -------
    str
        The file name inside the release folder.

    Raises
    ------
    ValueError
        If ``variant`` is not one of the known variants.

    Examples
    --------
    >>> binary_file("processed")
    'gene-expression-processed.bin'
    """
    check_choice(
        variant,
        tuple(VARIANTS),
        "variant",
        "('raw' for the Allen volumes with -1 for missing, 'processed' for the "
        "IBL-imputed volumes).",
    )
    return VARIANTS[variant]


# --- the published release -----------------------------------------------------
BUCKET_URL: Final = "s3://ibl-brain-wide-map-public/atlas/agea"
BUCKET_REGION: Final = "us-east-1"
#: The release the sha256 pins below were published for.
PINNED_VERSION: Final = "2025-03-18"
#: file name -> (size in bytes or None when unknown, sha256 or None when unpublished).
PINNED: Final = MappingProxyType(
    {
        "gene-expression.bin": (
            N_EXPERIMENTS * VOLUME_BYTES,
            "86b4997133435f830c33941e443d86baf1ef4195a8eb6343f5a9df2523f8e69d",
        ),
        "gene-expression-processed.bin": (N_EXPERIMENTS * VOLUME_BYTES, None),
        "gene-expression.pqt": (
            None,
            "90433973765b0361921c48dc70bce8291885c427d23d930b1eb6617348024572",
        ),
        "label.npy": (
            None,
            "0a09957f2e6b9c70081928e15587e9f3b97382ac7a79baa2788160206ad8a81a",
        ),
        "image.npy": (
            None,
            "665d671ad51976e9e0680da43eab8b74d5d6e84c11c230be31451c00d3ea71ba",
        ),
    }
)
#: iblatlas keeps its copy here, below the ONE cache directory.
IBLATLAS_CACHE_SUBDIR: Final = ("histology", "ATLAS", "Needles", "Allen", "agea")

CITATION: Final = (
    "Lein ES et al. (2007) Genome-wide atlas of gene expression in the adult mouse "
    "brain. Nature 445:168-176. doi:10.1038/nature05453; "
    "Ng L et al. (2009) An anatomic gene expression atlas of the adult mouse brain. "
    "Nat Neurosci 12:356-362. doi:10.1038/nn.2281; "
    "International Brain Laboratory, iblatlas (AGEA release on the "
    "ibl-brain-wide-map-public bucket). Data: Allen Mouse Brain Atlas, "
    "Allen Institute for Brain Science, https://mouse.brain-map.org."
)
