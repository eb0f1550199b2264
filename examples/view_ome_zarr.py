"""Pdyn exported to OME-Zarr, read back with ome-zarr's reader and drawn as a viewer shows it.

Run: ``python examples/view_ome_zarr.py --out figures/`` (offline; ``--source FOLDER``
for a full release). Exports the mean Pdyn volume to ``pdyn.ome.zarr`` in a temporary
folder, reads it back with ``ome_zarr.reader.Reader`` (what napari-ome-zarr uses), and
writes ``view_ome_zarr_pdyn.png``: the coronal plane 2.0 mm posterior to bregma at full
resolution (200 µm) with the region label image in its own colours on top, the label
image alone, and the coarsest level (800 µm), each placed by the scale and translation
read from the store, in CCF millimetres, on a dark background like a viewer's canvas.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import agea_xr

#: Figures this script writes into ``--out`` (the docs build runs it to draw them).
FIGURES = ("view_ome_zarr_pdyn.png",)
#: The coronal plane shown: 2.0 mm posterior to bregma, in CCF µm.
AP_CCF_UM = 5400.0 + 2000.0


def read_back(path: Path):
    """The image and label nodes of an OME-Zarr store, as ome-zarr's reader gives them."""
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    nodes = [n for n in Reader(parse_url(str(path)))() if n.data]
    image = next(n for n in nodes if "properties" not in n.metadata)
    labels = next(n for n in nodes if "properties" in n.metadata)
    return image, labels


def placed(node, level: int):
    """Scale and translation (µm, per axis ml, dv, ap) of one level, from the metadata."""
    transforms = node.metadata["coordinateTransformations"][level]
    scale = next(t["scale"] for t in transforms if t["type"] == "scale")
    shift = next(t["translation"] for t in transforms if t["type"] == "translation")
    return np.asarray(scale), np.asarray(shift)


def coronal(node, level: int):
    """The (dv, ml) plane nearest to AP_CCF_UM and its extent in CCF mm."""
    data = np.asarray(node.data[level])
    scale, shift = placed(node, level)
    k = int(np.round((AP_CCF_UM - shift[2]) / scale[2]))
    ml = shift[0] + scale[0] * np.array([-0.5, data.shape[0] - 0.5])
    dv = shift[1] + scale[1] * np.array([-0.5, data.shape[1] - 0.5])
    extent = (ml[0] / 1e3, ml[1] / 1e3, dv[1] / 1e3, dv[0] / 1e3)  # dorsal up
    return data[:, :, k].T, extent


def label_colours(labels, plane: np.ndarray) -> np.ndarray:
    """RGBA image of a label plane in the colours of its ``image-label`` metadata."""
    colours = labels.metadata["color"]
    out = np.zeros((*plane.shape, 4))
    for value in np.unique(plane):
        out[plane == value] = colours.get(int(value), (0.5, 0.5, 0.5, 1.0))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figure")
    parser.add_argument(
        "--source",
        help="a release folder or URL, e.g. the full release (default: the bundled sample)",
    )
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds = agea_xr.open_dataset(args.source) if args.source else agea_xr.open_sample()
    with tempfile.TemporaryDirectory() as tmp:
        path = agea_xr.export(ds.agea.gene("Pdyn"), Path(tmp) / "pdyn.ome.zarr")
        image, labels = read_back(path)
        fine, extent = coronal(image, 0)
        regions, _ = coronal(labels, 0)
        coarse, coarse_extent = coronal(image, len(image.data) - 1)

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), facecolor="black")
    vmax = np.nanpercentile(fine, 99)
    panels = [
        ("Pdyn, 200 µm, with regions", fine, extent, True),
        ("labels/regions (Allen colours)", None, extent, True),
        ("Pdyn, level 2 (800 µm)", coarse, coarse_extent, False),
    ]
    for ax, (title, data, ext, with_labels) in zip(axes, panels, strict=True):
        ax.set_facecolor("black")
        if data is not None:
            ax.imshow(data, extent=ext, cmap="magma", vmin=0, vmax=vmax, interpolation="nearest")
        if with_labels:
            rgba = label_colours(labels, regions)
            if data is not None:
                rgba[..., 3] *= 0.35  # a translucent layer over the image, as in napari
            ax.imshow(rgba, extent=ext, interpolation="nearest")
        ax.set_title(title, color="white", fontsize=10)
        ax.set_xlabel("ML, mm from the CCF's left edge", color="white", fontsize=8)
        ax.tick_params(colors="white", labelsize=7)
    axes[0].set_ylabel("DV, mm from the CCF's top", color="white", fontsize=8)
    fig.suptitle(
        "pdyn.ome.zarr read back with ome-zarr: coronal plane 2.0 mm posterior to bregma",
        color="white",
        fontsize=11,
    )
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / FIGURES[0], dpi=110, facecolor="black")
    print(f"wrote {args.out / FIGURES[0]}")


if __name__ == "__main__":
    main()
