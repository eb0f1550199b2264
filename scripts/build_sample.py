"""Rebuild the bundled sample ``agea_xr/data/sample`` from the Allen grid downloads.

Usage::

    python scripts/build_sample.py ALLEN_FOLDER [OUT_FOLDER]

``ALLEN_FOLDER`` holds ``Pdyn_P56_coronal_71717084_200um.zip``,
``Nrp1_P56_coronal_74272479_200um.zip`` and ``P56_Mouse_gridAnnotation.zip``
as downloaded from the Allen API. The output is byte-for-byte reproducible.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from agea_xr import layout
from agea_xr.allen import read_annotation, read_grid
from agea_xr.regions import label_from_allen_ids
from agea_xr.sample import SAMPLE_EXPERIMENTS

ZIPS = {
    71717084: "Pdyn_P56_coronal_71717084_200um.zip",
    74272479: "Nrp1_P56_coronal_74272479_200um.zip",
}
README = """# Bundled sample (IBL AGEA layout)

Two real experiments of the Allen Mouse Brain Atlas (P56, coronal ISH, 200 um
expression-energy grids), stored as the IBL release stores them:

- `gene-expression.bin`: float16, (2, 58, 41, 67), rows in the order of the table;
  values are the Allen `energy.raw` (float32) cast to float16; -1 = no measurement.
- `gene-expression.pqt`: `id` (experiment id, string), `gene` (symbol):
  71717084 Pdyn, 74272479 Nrp1.
- `label.npy`: int16 indices into `iblatlas.regions.BrainRegions().id`, made from the
  Allen `gridAnnotation` (structure ids), lateralised as iblatlas' own label.npy
  (left hemisphere, i_ml <= 28, points at negative ids).

Data: Allen Mouse Brain Atlas, Allen Institute for Brain Science,
https://mouse.brain-map.org (Lein et al. 2007, Nature 445:168;
Ng et al. 2009, Nat Neurosci 12:356). Rebuild with `scripts/build_sample.py`.
"""


def build(allen: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    volumes = []
    for experiment_id, _gene in SAMPLE_EXPERIMENTS:
        grid = read_grid(allen / ZIPS[experiment_id])
        if grid.experiment_id != experiment_id:
            raise ValueError(f"{ZIPS[experiment_id]} holds experiment {grid.experiment_id}")
        volumes.append(grid.volumes["energy"].astype(layout.RAW_DTYPE))
    np.stack(volumes).astype(layout.RAW_DTYPE).tofile(out / layout.VARIANTS["raw"])
    table = pd.DataFrame(
        {
            layout.TABLE_ID_COLUMN: [str(e) for e, _ in SAMPLE_EXPERIMENTS],
            layout.TABLE_GENE_COLUMN: [g for _, g in SAMPLE_EXPERIMENTS],
        }
    )
    table.to_parquet(out / layout.TABLE_FILE, index=False)
    label = label_from_allen_ids(read_annotation(allen / "P56_Mouse_gridAnnotation.zip"))
    np.save(out / layout.LABEL_FILE, label)
    (out / "README.md").write_text(README)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("allen", type=Path, help="folder of the Allen grid downloads")
    parser.add_argument(
        "out",
        type=Path,
        nargs="?",
        default=Path(__file__).resolve().parents[1] / "agea_xr" / "data" / "sample",
    )
    args = parser.parse_args()
    build(args.allen, args.out)
    print(f"sample written to {args.out}")


if __name__ == "__main__":
    main()
