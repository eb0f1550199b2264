"""A gene map beside its best-matching cell type and lipid (synthetic cell types and lipids).

Run: ``python examples/cell_types_lipids.py --out figures/`` (offline). Writes
``cell_types_lipids.png``: a coronal plane of the real Pdyn map (bundled sample),
of the synthetic cell type (subclass level) and of the synthetic lipid whose maps
match it best (:func:`agea_xr.similar`). The cell-type and lipid files are the
small synthetic releases of :mod:`agea_xr.testing`, in iblatlas' layout; point
:func:`agea_xr.open_cell_types` and :func:`agea_xr.open_lipids` at the real ones
(``s3://ibl-brain-wide-map-public/atlas/merfish`` and ``.../lipids``) for real matches.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import agea_xr
import agea_xr.testing as t

#: Figures this script writes into ``--out`` (the docs build runs it to draw them).
FIGURES = ("cell_types_lipids.png",)
#: The coronal plane shown, metres from bregma.
AP = 0.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figures")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pdyn = agea_xr.open_sample().agea.gene("Pdyn")
    with tempfile.TemporaryDirectory() as tmp:
        ct = agea_xr.open_cell_types(t.write_merfish(Path(tmp, "merfish"), ["subclass"]))
        lp = agea_xr.open_lipids(t.write_lipids(Path(tmp, "lipids")), min_reliability=0.6)
        types, lipids = agea_xr.similar(pdyn, ct, top=5), agea_xr.similar(pdyn, lp, top=5)
        print("Cell types matching Pdyn (synthetic):")
        print(types[["rank", "cell_type", "class", "r", "n_voxels"]].to_string(index=False))
        print("Lipids matching Pdyn (synthetic):")
        print(lipids[["rank", "lipid", "reliability", "r"]].to_string(index=False))
        best_type, best_lipid = types.iloc[0], lipids.iloc[0]
        panels = [
            ("Pdyn (ISH energy)", pdyn),
            (
                f"{best_type.cell_type}\nr = {best_type.r:.2f}",
                ct.density.sel(cell_type=best_type.cell_type),
            ),
            (
                f"{best_lipid.lipid}\nr = {best_lipid.r:.2f}",
                lp.intensity.sel(lipid=best_lipid.lipid),
            ),
        ]
        fig, axes = plt.subplots(1, 3, figsize=(10, 3.2), constrained_layout=True)
        for ax, (title, volume) in zip(axes, panels, strict=True):
            plane = volume.sel(ap=AP, method="nearest").astype("float32")
            ax.imshow(plane.transpose("dv", "ml").values, cmap="magma")
            ax.set_title(title, fontsize=9)
            ax.set_axis_off()
        args.out.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.out / FIGURES[0], dpi=110)
        plt.close(fig)


if __name__ == "__main__":
    main()
