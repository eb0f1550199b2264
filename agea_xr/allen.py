"""Reading Allen Mouse Brain Atlas grid downloads (``grid_data/download/<id>``).

A download is a zip holding MetaImage pairs (``energy.mhd`` + ``energy.raw``,
sometimes ``density``/``intensity``) and ``data_set.xml``; the annotation
download holds ``gridAnnotation.mhd`` + ``.raw``. Read as a C-order array, a
200 µm grid is ``(58, 41, 67)`` = (ML, DV, AP): exactly one volume of the IBL
binary.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .layout import GRID_SHAPE

__all__ = ["AllenGrid", "read_annotation", "read_grid", "read_mhd"]

_MET_TYPES = {
    "MET_FLOAT": "f4",
    "MET_DOUBLE": "f8",
    "MET_UINT": "u4",
    "MET_INT": "i4",
    "MET_USHORT": "u2",
    "MET_SHORT": "i2",
    "MET_UCHAR": "u1",
    "MET_CHAR": "i1",
}


@dataclass(frozen=True)
class AllenGrid:
    """The volumes of one Allen grid download.

    Attributes
    ----------
    experiment_id : int or None
        Allen SectionDataSet id, from ``data_set.xml`` (None if absent).
    volumes : dict of str to numpy.ndarray
        ``{"energy": ..., "density": ..., "intensity": ...}``: those present, each
        of shape (58, 41, 67) (ML, DV, AP), float32, ``-1`` for no measurement.
    plane : str or None
        ``"coronal"`` or ``"sagittal"`` when ``data_set.xml`` says.
    source : str
        The file it was read from.
    """

    experiment_id: int | None
    volumes: dict[str, np.ndarray] = field(repr=False)
    plane: str | None = None
    source: str = ""


def read_mhd(header: str, raw: bytes, *, where: str = "") -> np.ndarray:
    """Decode one MetaImage header and its raw bytes into a C-order (ML, DV, AP) array.

    Parameters
    ----------
    header : str
        Text of the ``.mhd`` file.
    raw : bytes
        Content of the ``.raw`` file it names.
    where : str, optional
        Name used in error messages.

    Returns
    -------
    numpy.ndarray
        Shape ``DimSize`` reversed (``67 41 58`` -> ``(58, 41, 67)``), native byte order.

    Raises
    ------
    ValueError
        If the header lacks a field, names an unknown element type or compressed
        data, or the byte count does not match.
    """
    fields = {}
    for line in header.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            fields[key.strip()] = value.strip()
    try:
        dims = tuple(int(v) for v in fields["DimSize"].split())
        element = fields["ElementType"]
    except KeyError as err:
        raise ValueError(f"MetaImage header {where!r} has no {err.args[0]} field.") from None
    if fields.get("CompressedData", "False").lower() == "true":
        raise ValueError(f"{where!r} is compressed MetaImage, which is not supported.")
    if element not in _MET_TYPES:
        raise ValueError(
            f"{where!r} has ElementType {element!r}; supported: {sorted(_MET_TYPES)}."
        )
    order = ">" if fields.get("BinaryDataByteOrderMSB", "False").lower() == "true" else "<"
    dtype = np.dtype(order + _MET_TYPES[element])
    shape = tuple(reversed(dims))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(
            f"{where!r}: DimSize {dims} of {element} needs {expected:,} bytes, the raw file "
            f"has {len(raw):,}. The download is incomplete: fetch it again."
        )
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


#: Largest ``.mhd`` header and ``data_set.xml`` read from a zip (they are a few kB).
_MAX_TEXT_BYTES = 1 << 20
#: Largest raw volume read: the 200 µm grid in float64 (the largest element type).
_MAX_GRID_BYTES = int(np.prod(GRID_SHAPE)) * 8


def _read_member(zf: zipfile.ZipFile, name: str, where: str, limit: int) -> bytes:
    """Read a zip member after checking its declared size (a zip bomb is never inflated)."""
    size = zf.getinfo(name).file_size
    if size > limit:
        raise ValueError(
            f"{where}: the member {name!r} declares {size:,} bytes once inflated, more than "
            f"the {limit:,} an Allen 200 µm grid download holds there. It is not an Allen "
            "grid download (or it is damaged): download it again."
        )
    return zf.read(name)


def _read_pair(zf: zipfile.ZipFile, mhd_name: str, where: str) -> np.ndarray:
    header = _read_member(zf, mhd_name, where, _MAX_TEXT_BYTES).decode("ascii", errors="replace")
    match = re.search(r"ElementDataFile\s*=\s*(\S+)", header)
    if not match:
        raise ValueError(f"{where}:{mhd_name} names no ElementDataFile.")
    folder = mhd_name.rsplit("/", 1)[0] + "/" if "/" in mhd_name else ""
    raw_name = folder + match.group(1)
    if raw_name not in zf.namelist():
        raise ValueError(
            f"{where}:{mhd_name} names the data file {raw_name!r}, which the zip does not "
            "hold: the download is incomplete, download it again."
        )
    raw = _read_member(zf, raw_name, where, _MAX_GRID_BYTES)
    return read_mhd(header, raw, where=f"{where}:{mhd_name}")


def _names(zf: zipfile.ZipFile) -> dict[str, str]:
    return {Path(n).name: n for n in zf.namelist() if not n.endswith("/")}


def read_grid(path: str | os.PathLike) -> AllenGrid:
    """Read an Allen grid download (zip) of one ISH experiment.

    Parameters
    ----------
    path : str or os.PathLike
        The zip, e.g. ``Pdyn_P56_coronal_71717084_200um.zip``.

    Returns
    -------
    AllenGrid
        The experiment id and every volume found (``energy``, ``density``,
        ``intensity``), each float32 (58, 41, 67).

    Raises
    ------
    FileNotFoundError
        If the zip does not exist.
    ValueError
        If it is not a zip, holds no expression grid or a grid of another shape,
        declares members larger than a grid (checked before inflating anything),
        or its ``data_set.xml`` is not valid XML; the message names the zip.

    Examples
    --------
    >>> grid = read_grid("Pdyn_P56_coronal_71717084_200um.zip")  # doctest: +SKIP
    >>> grid.experiment_id, grid.volumes["energy"].shape  # doctest: +SKIP
    (71717084, (58, 41, 67))
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Allen grid download {str(path)!r} does not exist.")
    volumes: dict[str, np.ndarray] = {}
    experiment_id = plane = None
    try:
        zf_context = zipfile.ZipFile(path)
    except zipfile.BadZipFile as err:
        raise ValueError(
            f"{str(path)!r} is not a zip file ({err}); expected an Allen grid download."
        ) from None
    with zf_context as zf:
        names = _names(zf)
        for kind in ("energy", "density", "intensity"):
            if f"{kind}.mhd" in names:
                volume = _read_pair(zf, names[f"{kind}.mhd"], str(path))
                if volume.shape != GRID_SHAPE:
                    raise ValueError(
                        f"{str(path)!r}: {kind} grid has shape {volume.shape}, the 200 µm "
                        f"AGEA grid is {GRID_SHAPE}. Download the 200 µm grid."
                    )
                volumes[kind] = volume.astype(np.float32, copy=False)
        if "data_set.xml" in names:
            text = _read_member(zf, names["data_set.xml"], str(path), _MAX_TEXT_BYTES)
            try:
                root = ET.fromstring(text)
            except ET.ParseError as err:
                raise ValueError(
                    f"{str(path)!r}: its data_set.xml is not valid XML ({err}): the download "
                    "is truncated or damaged. Download it again."
                ) from None
            node = root.find("id")
            if node is not None and node.text:
                try:
                    experiment_id = int(node.text.strip())
                except ValueError:
                    raise ValueError(
                        f"{str(path)!r}: data_set.xml gives the experiment id "
                        f"{node.text.strip()!r}, which is not a whole number. Download it again."
                    ) from None
            for tag in ("plane_of_section", "plane-of-section"):
                node = root.find(f".//{tag}")
                if node is not None and node.find("name") is not None:
                    node = node.find("name")  # <plane-of-section><id/><name>sagittal</name>
                text = (node.text or "").strip().lower() if node is not None else ""
                if text:
                    plane = text
                    break
    if not volumes:
        raise ValueError(
            f"{str(path)!r} holds no energy/density/intensity grid: its files are "
            f"{sorted(names)}. Is it an Allen grid_data download?"
        )
    if experiment_id is None:
        match = re.search(r"_(\d{6,})_", path.name)
        experiment_id = int(match.group(1)) if match else None
    if plane is None:
        match = re.search(r"(coronal|sagittal)", path.name, flags=re.IGNORECASE)
        plane = match.group(1).lower() if match else None
    return AllenGrid(experiment_id, volumes, plane, str(path))


def read_annotation(path: str | os.PathLike) -> np.ndarray:
    """Read the Allen grid annotation (``P56_Mouse_gridAnnotation.zip``).

    Parameters
    ----------
    path : str or os.PathLike
        The zip holding ``gridAnnotation.mhd`` + ``gridAnnotation.raw``.

    Returns
    -------
    numpy.ndarray
        uint32 Allen structure ids, shape (58, 41, 67), 0 outside the brain;
        not lateralised.

    Raises
    ------
    FileNotFoundError
        If the zip does not exist.
    ValueError
        If it is not a zip, holds no annotation of the AGEA grid, or declares
        members larger than a grid.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Allen grid annotation {str(path)!r} does not exist.")
    try:
        zf_context = zipfile.ZipFile(path)
    except zipfile.BadZipFile as err:
        raise ValueError(
            f"{str(path)!r} is not a zip file ({err}); expected the Allen grid annotation "
            "download (P56_Mouse_gridAnnotation.zip)."
        ) from None
    with zf_context as zf:
        names = _names(zf)
        if "gridAnnotation.mhd" not in names:
            raise ValueError(
                f"{str(path)!r} holds no gridAnnotation.mhd (files: {sorted(names)})."
            )
        volume = _read_pair(zf, names["gridAnnotation.mhd"], str(path))
    if volume.shape != GRID_SHAPE:
        raise ValueError(f"{str(path)!r}: annotation shape {volume.shape} != {GRID_SHAPE}.")
    return volume
