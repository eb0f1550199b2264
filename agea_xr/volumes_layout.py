"""Facts of the other IBL volumes on the AGEA grid: MERFISH cell types and lipids.

Every file name, shape, dtype, table column and processing constant of the
volumes that iblatlas 1.3 publishes beside the AGEA release
(``iblatlas.genomics.merfish`` and ``iblatlas.genomics.lipids``) is stated here,
and nowhere else. The volumes are standard ``.npy`` files on exactly the AGEA
grid (:data:`agea_xr.layout.GRID_SHAPE`), C order, first axis the item (cell
type or lipid), so item ``i`` starts ``i * 159,326 * itemsize`` bytes after the
``.npy`` header.

This module imports nothing heavier than numpy.
"""

from __future__ import annotations

import io
from types import MappingProxyType
from typing import Final

import numpy as np
from numpy.lib import format as npy_format

from . import layout
from ._choices import check_choice

__all__ = [
    "AGEA_FOLDER",
    "CELL_TYPE",
    "CELL_TYPE_CITATION",
    "CELL_TYPE_LICENSE",
    "CELL_TYPE_VARIANTS",
    "DENOISE_EPSILON",
    "DENOISE_SEED",
    "DENOISE_SIGMA",
    "LEVELS",
    "LIPID",
    "LIPIDS_FOLDER",
    "LIPIDS_URL",
    "LIPID_CITATION",
    "LIPID_COLUMNS",
    "LIPID_DTYPE",
    "LIPID_FILE",
    "LIPID_FILES",
    "LIPID_LICENSE",
    "LIPID_TABLE",
    "MERFISH_DTYPE",
    "MERFISH_FOLDER",
    "MERFISH_URL",
    "NON_NEURONAL_CLASSES",
    "N_LIPIDS",
    "N_TYPES",
    "OLD_MERFISH_VERSIONS",
    "PARENT",
    "TAXONOMY_TABLE",
    "cell_type_files",
    "check_level",
    "color_column",
    "labels_file",
    "parse_header",
    "volume_file",
    "volume_header",
]

# --- where ---------------------------------------------------------------------
_BUCKET = layout.BUCKET_URL.rsplit("/", 1)[0]  # s3://ibl-brain-wide-map-public/atlas
#: Folder of the MERFISH volumes and tables in the public bucket (anonymous read).
MERFISH_URL: Final = f"{_BUCKET}/merfish"
#: Folder of the lipid volumes and table in the public bucket (anonymous read).
LIPIDS_URL: Final = f"{_BUCKET}/lipids"
#: iblatlas caches them in these siblings of its ``agea`` folder.
MERFISH_FOLDER: Final = "merfish"
LIPIDS_FOLDER: Final = "lipids"
AGEA_FOLDER: Final = "agea"
#: ``<date>.version`` markers of ``merfish/`` that iblatlas treats as old releases.
OLD_MERFISH_VERSIONS: Final = ("2024-02-02", "2023-06-12")

# --- MERFISH cell types ----------------------------------------------------------
#: Name of the item dimension of the cell-type volumes.
CELL_TYPE: Final = "cell_type"
#: Taxonomy levels, coarse to fine.
LEVELS: Final = ("class", "subclass", "supertype", "cluster")
#: Parent level of each level (None at the top).
PARENT: Final = MappingProxyType(
    {"class": None, "subclass": "class", "supertype": "subclass", "cluster": "supertype"}
)
#: Taxonomy table file of each level (indexed by integer id, row 0 empty).
TAXONOMY_TABLE: Final = MappingProxyType(
    {
        "class": "classes.pqt",
        "subclass": "subclasses.pqt",
        "supertype": "supertypes.pqt",
        "cluster": "clusters.pqt",
    }
)
#: Types at each level in the 20231215 release (tables have one more, empty, row 0).
N_TYPES: Final = MappingProxyType(
    {"class": 34, "subclass": 338, "supertype": 1201, "cluster": 5322}
)
#: dtype of the cell-type volumes: cell counts per voxel (interpolated), may hold NaN.
MERFISH_DTYPE: Final = np.dtype("<f2")
#: Classes whose types are non-neuronal (walk the parents up to the class).
NON_NEURONAL_CLASSES: Final = (
    "30 Astro-Epen",
    "31 OPC-Oligo",
    "32 OEC",
    "33 Vascular",
    "34 Immune",
)
#: ``merfish.denoise_volume``: Gaussian sigma (voxels), Dirichlet seed, divisor guard.
DENOISE_SIGMA: Final = 0.5
DENOISE_SEED: Final = 42
DENOISE_EPSILON: Final = 1e-10
#: Variants of :func:`agea_xr.open_cell_types`.
CELL_TYPE_VARIANTS: Final = ("raw", "processed")
CELL_TYPE_CITATION: Final = (
    "Yao Z. et al. (2023) A high-resolution transcriptomic and spatial atlas of cell types "
    "in the whole mouse brain. Nature 624:317-332; Zhang M. et al. (2023) Molecularly "
    "defined and spatially resolved cell atlas of the whole mouse brain. Nature 624:343-354. "
    "Allen Brain Cell atlas MERFISH (C57BL6J-638850, release 20231215), counted on the IBL "
    "200 um grid by iblatlas (International Brain Laboratory)."
)
CELL_TYPE_LICENSE: Final = (
    "Allen Institute Terms of Use (https://alleninstitute.org/terms-of-use/); "
    "iblatlas derivative: MIT"
)

# --- lipids ----------------------------------------------------------------------
#: Name of the item dimension of the lipid volumes.
LIPID: Final = "lipid"
LIPID_FILE: Final = "lipid_volumes.npy"
LIPID_TABLE: Final = "lipids.pqt"
#: The files :func:`agea_xr.open_lipids` reads.
LIPID_FILES: Final = (LIPID_FILE, LIPID_TABLE)
#: Lipids of the published volume.
N_LIPIDS: Final = 173
#: dtype of the lipid volumes: log intensities, NaN outside the sampled brain.
LIPID_DTYPE: Final = np.dtype("<f4")
#: Columns of ``lipids.pqt``, one row per channel of the volume.
LIPID_COLUMNS: Final = ("lipid", "reliability", "sex_log_ratio", "sex_zscore")
LIPID_CITATION: Final = (
    "Fusar Bassini L. et al. (2026) Lipid Brain Atlas. Nature, "
    "doi:10.1038/s41586-026-11050-0; data doi:10.5281/zenodo.15379565. Volumes on the IBL "
    "200 um grid by iblatlas (International Brain Laboratory)."
)
LIPID_LICENSE: Final = "CC-BY-4.0 (credit the paper and the data DOI)"


def check_level(level: str) -> str:
    """A taxonomy level, checked.

    Raises
    ------
    ValueError
        Naming the level and the four valid ones.

    Examples
    --------
    >>> check_level("subclass")
    'subclass'
    """
    return check_choice(level, LEVELS, "taxonomy level", "Coarse to fine.")


def volume_file(level: str) -> str:
    """``merfish_{level}.npy``, the volume of one level.

    Examples
    --------
    >>> volume_file("class")
    'merfish_class.npy'
    """
    return f"merfish_{check_level(level)}.npy"


def labels_file(level: str) -> str:
    """``merfish_{level}_labels.npy``, the type ids of the volume's channels.

    Examples
    --------
    >>> labels_file("cluster")
    'merfish_cluster_labels.npy'
    """
    return f"merfish_{check_level(level)}_labels.npy"


def color_column(level: str) -> str:
    """The hex colour column of a level's table (``<level>_color``)."""
    return f"{check_level(level)}_color"


def cell_type_files(level: str) -> tuple[str, ...]:
    """The files :func:`agea_xr.open_cell_types` reads for one level.

    The volume, its type ids, and the taxonomy tables of the level and of every
    level above it (the ancestors' names are coordinates).

    Examples
    --------
    >>> cell_type_files("subclass")
    ('merfish_subclass.npy', 'merfish_subclass_labels.npy', 'subclasses.pqt', 'classes.pqt')
    """
    tables, current = [], check_level(level)
    while current is not None:
        tables.append(TAXONOMY_TABLE[current])
        current = PARENT[current]
    return (volume_file(level), labels_file(level), *tables)


# --- the .npy header ---------------------------------------------------------------
def parse_header(head: bytes, where: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset of a ``.npy`` file from its first bytes.

    Parameters
    ----------
    head : bytes
        The first bytes of the file (at least the whole header).
    where : str
        The file, named in messages.

    Returns
    -------
    shape : tuple of int
    dtype : numpy.dtype
    offset : int
        Byte offset of the first item.

    Raises
    ------
    ValueError
        If the bytes are not a ``.npy`` header, the array is Fortran ordered, or
        holds Python objects (which would need unpickling: refused).

    Examples
    --------
    >>> buf = io.BytesIO()
    >>> np.save(buf, np.zeros((2, 3), dtype="<f2"))
    >>> parse_header(buf.getvalue(), "x.npy")
    ((2, 3), dtype('float16'), 128)
    """
    f = io.BytesIO(head)
    try:
        version = npy_format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = npy_format.read_array_header_2_0(f)
    except (ValueError, EOFError, SyntaxError) as err:
        raise ValueError(
            f"Cannot read {where!r} as a .npy file ({err}): the file is damaged, incomplete "
            "or not a volume of the release. Download it again."
        ) from err
    if dtype.hasobject:
        raise ValueError(
            f"{where!r} holds Python objects (dtype {dtype}), which only unpickling could "
            "read; agea-xr never unpickles. The release's volumes are float arrays: "
            "replace the file with the published one."
        )
    if fortran:
        raise ValueError(
            f"{where!r} is stored in Fortran order; the release's volumes are C order "
            "(one item after another). Replace the file with the published one."
        )
    return tuple(int(n) for n in shape), dtype, f.tell()


def volume_header(head: bytes, where: str) -> tuple[tuple[int, ...], np.dtype, int, int]:
    """The header of a volume of items on the AGEA grid, checked, and the file's size.

    Parameters
    ----------
    head : bytes
        The first bytes of the file (4 kB hold any header of the release).
    where : str
        The file, named in messages.

    Returns
    -------
    shape : tuple of int
        ``(items, 58, 41, 67)``.
    dtype : numpy.dtype
    offset : int
        Byte offset of the first item.
    size : int
        Bytes the whole file has: ``offset`` plus every item's.

    Raises
    ------
    ValueError
        As :func:`parse_header`, if the shape is not ``(items, 58, 41, 67)``, or the
        dtype is not floating (the release's volumes are float16 and float32, NaN
        where nothing was measured; any byte order and float size is read).

    Examples
    --------
    >>> buf = io.BytesIO()
    >>> np.save(buf, np.zeros((2, *layout.GRID_SHAPE), dtype="<f2"))
    >>> volume_header(buf.getvalue()[:4096], "x.npy")[3] == len(buf.getvalue())
    True
    """
    shape, dtype, offset = parse_header(head, where)
    if len(shape) != 4 or shape[1:] != layout.GRID_SHAPE:
        raise ValueError(
            f"{where!r} has shape {shape}; a volume of items on the AGEA grid is "
            f"(items, {', '.join(map(str, layout.GRID_SHAPE))}) (ml, dv, ap)."
        )
    if dtype.kind != "f":
        raise ValueError(
            f"{where!r} holds {dtype} values; a volume of the release holds floating "
            "point values (cell counts in float16, lipid log intensities in float32, NaN "
            "where nothing was measured). Replace the file with the published one, or "
            "re-save yours as floats (np.save(path, volume.astype('float32')))."
        )
    return shape, dtype, offset, offset + int(np.prod(shape)) * dtype.itemsize
