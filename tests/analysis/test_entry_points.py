"""The analyses through the command line and the accessor give the functions' results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from agea_xr.analysis import gene_finder, region_expression, seed_correlation, voxel_matrix
from agea_xr.cli import main

from .reference import SEED_XYZ


def test_cli_regions(synthetic_dir, ds, tmp_path, capsys):
    csv = tmp_path / "m.csv"
    argv = ["regions", "--source", str(synthetic_dir), "--mapping", "Cosmos", "--csv", str(csv)]
    assert main([*argv, "--scheduler", "synchronous"]) == 0
    out = capsys.readouterr().out
    assert "mean expression per Cosmos region (12 experiments x" in out
    table = pd.read_csv(csv)
    m = region_expression(ds, "Cosmos").compute()
    assert table["experiment"].tolist() == ds["experiment"].values.tolist()
    np.testing.assert_allclose(table["HPF"].to_numpy(), m.sel(region=1089).values, rtol=1e-12)
    assert main(["regions", "--sample", "--gene", "Pdyn", "--mapping", "Cosmos"]) == 0
    out = capsys.readouterr().out
    assert "Pdyn 71717084" in out and "Hippocampal formation" in out


def test_cli_correlate(synthetic_dir, ds, label, tmp_path, capsys):
    csv = tmp_path / "r.csv"
    seed_mm = [v * 1e3 for v in SEED_XYZ]
    argv = ["correlate", "--source", str(synthetic_dir), "--seed", *map(str, seed_mm)]
    assert main([*argv, "--min-experiments", "6", "--top", "5", "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "Pearson r with the voxel at x=-1.539" in out
    assert "voxels inside the brain with at least 6" in out
    table = pd.read_csv(csv)
    r = seed_correlation(ds, SEED_XYZ, min_experiments=6).compute()
    brain = label != 0
    finite = np.isfinite(r.values)
    # the ranking holds the brain's voxels only: no void at the top (nor anywhere)
    assert len(table) == (finite & brain).sum() < finite.sum()
    assert "void" not in set(table["region"]) and "void" not in out
    assert table["r"].iloc[0] == pytest.approx(float(r.where(brain).max()))
    assert (table["r"].diff().dropna() <= 0).all()
    assert (table["n_experiments"] >= 6).all()
    # --include-void keeps every voxel with an r
    csv_all = tmp_path / "r_all.csv"
    argv = [*argv, "--min-experiments", "6", "--include-void", "--csv", str(csv_all)]
    assert main(argv) == 0
    assert "voxels with at least 6" in capsys.readouterr().out
    everything = pd.read_csv(csv_all)
    assert len(everything) == finite.sum()
    assert "void" in set(everything["region"])
    assert everything["r"].iloc[0] == pytest.approx(float(r.max()))


def test_cli_correlate_unmeasured_seed_is_one_line(synthetic_dir, values, capsys):
    argv = [
        "correlate",
        "--source",
        str(synthetic_dir),
        "--seed",
        "-5.7",
        "5.4",
        "0.3",
        "--no-progress",
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("agea-xr correlate: error: The seed ")  # in mm, as typed
    assert "-5.7 5.4 0.3 mm" in err
    assert f"measured in {np.isfinite(values[:, 0]).sum()} of 12 experiments" in err


def test_cli_find(synthetic_dir, ds, tmp_path, capsys):
    csv = tmp_path / "f.csv"
    argv = [
        "find",
        "--source",
        str(synthetic_dir),
        "--target",
        "CA1",
        "--contrast",
        "HPF",
        "--csv",
        str(csv),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Enrichment in CA1" in out and "against HPF" in out
    expected = gene_finder(ds, "CA1", "HPF", mapping="Beryl")  # the CLI's one default
    got = pd.read_csv(csv)
    assert got["experiment"].tolist() == expected["experiment"].tolist()
    np.testing.assert_allclose(got["effect_size"], expected["effect_size"], rtol=1e-9)


def test_cli_error_is_one_line(synthetic_dir, capsys):
    assert main(["find", "--source", str(synthetic_dir), "--target", "CA11"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("agea-xr find: error: Unknown brain region acronym 'CA11'")


def test_cli_distributed_scheduler(synthetic_dir, capsys):
    pytest.importorskip("distributed")
    argv = [
        "find",
        "--source",
        str(synthetic_dir),
        "--target",
        "CA1",
        "--scheduler",
        "distributed",
    ]
    assert main([*argv, "--no-progress"]) == 0
    assert "Enrichment in CA1" in capsys.readouterr().out


def test_accessor_delegates(ds):
    xr.testing.assert_identical(
        ds.agea.region_expression("Cosmos").compute(), region_expression(ds, "Cosmos").compute()
    )
    pd.testing.assert_frame_equal(ds.agea.gene_finder("CA1"), gene_finder(ds, "CA1"))
    assert ds.agea.voxel_matrix("CA1").sizes["voxel"] == voxel_matrix(ds, "CA1").sizes["voxel"]
    r = ds.agea.seed_correlation(SEED_XYZ, min_experiments=6).compute()
    xr.testing.assert_identical(r, seed_correlation(ds, SEED_XYZ, min_experiments=6).compute())
