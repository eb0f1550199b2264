"""Volumes from files, with the geometry each format carries (one reader per format).

Each reader returns the array, in its file's axis order, and its
:class:`~agea_xr.spaces.Placement` (or None when the file carries no geometry: the
caller then needs ``resolution_um`` and ``orientation``). Reading uses each format's own
library: nibabel (NIfTI), pynrrd (NRRD), :func:`agea_xr.allen.read_mhd` (MetaImage),
ome-zarr (OME-Zarr), tifffile (TIFF).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..allen import read_mhd
from ..spaces import Placement, placement_from_directions, placement_from_ngff

__all__ = ["FORMATS", "format_of", "read_file"]

#: Format -> file name endings.
FORMATS = {
    "nifti": (".nii", ".nii.gz"),
    "nrrd": (".nrrd", ".nhdr"),
    "metaimage": (".mhd",),
    "ome-zarr": (".ome.zarr", ".zarr"),
    "tiff": (".tif", ".tiff"),
    "npy": (".npy",),
}
_EXTRAS = "pip install 'agea-xr[maps]'"


def format_of(path: Path) -> str:
    """The format of a file, from its name."""
    name = path.name.lower().rstrip("/")
    for fmt, endings in FORMATS.items():
        if name.endswith(endings):
            return fmt
    known = ", ".join(e for endings in FORMATS.values() for e in endings)
    raise ValueError(
        f"{str(path)!r}: unknown map format. Known file endings: {known}; a numpy array "
        "can be passed directly with resolution_um= and orientation=."
    )


def _need(module: str, what: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"Reading {what} needs {module}: {_EXTRAS}.") from None


def _nifti(path: Path, origin: str) -> tuple[Any, Placement]:
    nib = _need("nibabel", "NIfTI")
    image = nib.load(str(path))
    data = np.asanyarray(image.dataobj)
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise ValueError(f"{str(path)!r} holds a {data.ndim}-D image; a map is 3-D.")
    affine = np.array(image.affine, dtype=np.float64)
    unit = image.header.get_xyzt_units()[0]
    if unit == "micron":
        affine[:3, :] /= 1e3
    elif unit == "meter":
        affine[:3, :] *= 1e3
    how = f"NIfTI affine ({'sform' if image.header['sform_code'] > 0 else 'qform'})"
    return data, Placement.from_affine(affine, data.shape, origin, how=how)


def _nrrd(path: Path, origin: str) -> tuple[Any, Placement | None]:
    nrrd = _need("nrrd", "NRRD")
    data, header = nrrd.read(str(path))
    if data.ndim != 3:
        raise ValueError(f"{str(path)!r} holds a {data.ndim}-D image; a map is 3-D.")
    if "space directions" not in header:
        spacings = header.get("spacings")
        if spacings is None:
            return data, None
        directions = np.diag(np.asarray(spacings, dtype=np.float64))
        return data, placement_from_directions(directions, None, data.shape, how="NRRD header")
    units = header.get("space units")
    return data, placement_from_directions(
        header["space directions"],
        header.get("space origin"),
        data.shape,
        space=header.get("space", "right-anterior-superior"),
        units=units[0] if units else None,
        origin=origin,
        how="NRRD header",
    )


def _metaimage(path: Path, origin: str) -> tuple[Any, Placement]:
    header = path.read_text(encoding="ascii", errors="replace")
    fields = {}
    for line in header.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            fields[key.strip()] = value.strip()
    name = fields.get("ElementDataFile", "")
    if not name or name == "LOCAL":
        raise ValueError(
            f"{str(path)!r}: a MetaImage header with its data in another file is needed "
            f"(ElementDataFile = {name!r})."
        )
    raw = (path.parent / name).read_bytes()
    # C order of the bytes is (z, y, x); transpose to the header's axis order (x, y, z)
    data = read_mhd(header, raw, where=str(path)).T
    spacing = np.asarray(fields.get("ElementSpacing", "1 1 1").split(), dtype=np.float64)
    matrix = np.asarray(
        fields.get("TransformMatrix", "1 0 0 0 1 0 0 0 1").split(), dtype=np.float64
    ).reshape(3, 3)
    offset = np.asarray(fields.get("Offset", "0 0 0").split(), dtype=np.float64)
    directions = matrix * spacing[:, None]
    placement = placement_from_directions(
        directions,
        offset,
        data.shape,
        space="left-posterior-superior",  # ITK's world
        origin=origin,
        how="MetaImage header",
    )
    return data, placement


def _ome_zarr(path: Path, orientation: str | None, origin: str) -> tuple[Any, Placement]:
    io = _need("ome_zarr.io", "OME-Zarr")
    reader_module = _need("ome_zarr.reader", "OME-Zarr")
    location = io.parse_url(str(path), mode="r")
    if location is None:
        raise FileNotFoundError(f"No OME-Zarr image at {str(path)!r}.")
    nodes = list(reader_module.Reader(location)())
    images = [n for n in nodes if n.data and "axes" in n.metadata]
    if not images:
        raise ValueError(f"{str(path)!r} holds no OME-Zarr multiscale image.")
    node = images[0]
    data = node.data[0]
    axes = [a if isinstance(a, dict) else {"name": a} for a in node.metadata["axes"]]
    transforms = node.metadata.get("coordinateTransformations", [[]])[0]
    scale = next((t["scale"] for t in transforms if t["type"] == "scale"), [1.0] * len(axes))
    shift = next((t["translation"] for t in transforms if t["type"] == "translation"), None)
    spatial = [k for k, a in enumerate(axes) if a.get("type", "space") == "space"]
    if len(spatial) != 3:
        raise ValueError(f"{str(path)!r}: the image has {len(spatial)} spatial axes, not 3.")
    for k in range(len(axes)):
        if k not in spatial and data.shape[k] != 1:
            raise ValueError(
                f"{str(path)!r}: the axis {axes[k].get('name')!r} has {data.shape[k]} "
                "entries; a map has only the three spatial axes."
            )
    data = data[tuple(slice(None) if k in spatial else 0 for k in range(len(axes)))]
    placement = placement_from_ngff(
        [axes[k] for k in spatial],
        [scale[k] for k in spatial],
        None if shift is None else [shift[k] for k in spatial],
        data.shape,
        orientation=orientation,
        origin="ccf" if origin == "auto" else origin,
    )
    return np.asarray(data), placement


def _tiff(path: Path) -> tuple[Any, None]:
    tifffile = _need("tifffile", "TIFF stacks")
    data = tifffile.imread(str(path))
    if data.ndim != 3:
        raise ValueError(
            f"{str(path)!r} holds a {data.ndim}-D image (shape {data.shape}); a map is a "
            "3-D stack."
        )
    return data, None


def read_file(
    path: str | os.PathLike, orientation: str | None, origin: str
) -> tuple[Any, Placement | None, str]:
    """Read a map file: the array (file axis order), its placement (or None), its format.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        For an unknown ending or a file that is not a 3-D volume.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Map file {str(path)!r} does not exist.")
    fmt = format_of(path)
    if fmt == "nifti":
        data, placement = _nifti(path, origin)
    elif fmt == "nrrd":
        data, placement = _nrrd(path, origin)
    elif fmt == "metaimage":
        data, placement = _metaimage(path, origin)
    elif fmt == "ome-zarr":
        data, placement = _ome_zarr(path, orientation, origin)
    elif fmt == "tiff":
        data, placement = _tiff(path)
    else:
        data, placement = np.load(path, mmap_mode="r", allow_pickle=False), None
    return data, placement, fmt


def stem(path: str | os.PathLike) -> str:
    """A name for a map from its file name (endings removed)."""
    name = Path(path).name
    for endings in FORMATS.values():
        for ending in sorted(endings, key=len, reverse=True):
            if name.lower().endswith(ending):
                return re.sub(r"[^\w.-]", "_", name[: -len(ending)]) or "map"
    return name
