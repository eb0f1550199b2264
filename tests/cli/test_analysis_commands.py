"""``regions``, ``correlate``, ``find``: the analyses from the command line, in mm."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import agea_xr
from agea_xr.cli import main

SEED_XYZ = (-1.5e-3, -2.0e-3, -1.5e-3)  # metres, x=ML y=AP z=DV


def test_cli_regions(synthetic_dir, ds, tmp_path, capsys):
    csv = tmp_path / "m.csv"
    argv = ["regions", "--source", str(synthetic_dir), "--mapping", "Cosmos", "--csv", str(csv)]
    assert main([*argv, "--scheduler", "synchronous"]) == 0
    out = capsys.readouterr().out
    assert "mean expression per Cosmos region (12 experiments x" in out
    table = pd.read_csv(csv)
    m = agea_xr.region_expression(ds, "Cosmos").compute()
    assert table["experiment"].tolist() == ds["experiment"].values.tolist()
    np.testing.assert_allclose(table["HPF"].to_numpy(), m.sel(region=1089).values, rtol=1e-12)
    assert main(["regions", "--sample", "--gene", "Pdyn", "--mapping", "Cosmos"]) == 0
    out = capsys.readouterr().out
    assert "Pdyn 71717084" in out and "Hippocampal formation" in out


def test_regions_default_mapping_is_beryl(capsys):
    assert main(["regions", "--sample", "--gene", "Nrp1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    n = agea_xr.region_expression(agea_xr.open_sample(), "Beryl").sizes["region"]
    assert f"mean expression per Beryl region (1 experiment x {n} regions" in out


def test_cli_correlate(synthetic_dir, ds, tmp_path, capsys):
    csv = tmp_path / "r.csv"
    seed_mm = [v * 1e3 for v in SEED_XYZ]
    argv = ["correlate", "--source", str(synthetic_dir), "--seed", *map(str, seed_mm)]
    assert main([*argv, "--min-experiments", "6", "--top", "5", "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "Pearson r with the voxel at x=-1.539" in out
    assert "voxels inside the brain with at least 6" in out
    table = pd.read_csv(csv)
    r = agea_xr.seed_correlation(ds, SEED_XYZ, min_experiments=6).compute()
    label = ds["label"].values
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


def test_correlate_top_0_prints_no_row(synthetic_dir, capsys):
    argv = ["correlate", "--source", str(synthetic_dir), "--seed", "-1.5", "-2", "-1.5"]
    assert main([*argv, "--min-experiments", "6", "--top", "0", "--no-progress"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("top 0:")
    assert out[1].split() == ["ml_mm", "ap_mm", "dv_mm", "region", "r", "n_experiments"]
    assert len(out) == 2


def test_correlate_unmeasured_seed_is_said_in_mm(synthetic_dir, synthetic_raw, capsys):
    argv = ["correlate", "--source", str(synthetic_dir), "--seed", "-5.7", "5.4", "0.3"]
    assert main([*argv, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "agea-xr correlate: error: The seed ML AP DV = -5.7 5.4 0.3 mm falls in the voxel at "
        "x=-5.739, y=+5.400, z=+0.332 mm"
    )
    measured = int((synthetic_raw[:, 0, 0, 0] != -1).sum())
    assert f"measured in {measured} of 12 experiments" in err
    assert "(--min-experiments 10)" in err
    # the hint is a --seed to type, in mm; no metres, no keyword arguments
    assert "seed there (--seed " in err
    assert "xyz=" not in err and "(m)" not in err and "min_experiments" not in err
    assert len(err.splitlines()) == 1


def test_correlate_seed_outside_the_grid_is_said_in_mm(capsys):
    assert main(["correlate", "--sample", "--seed", "1", "100", "-2"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "agea-xr correlate: error: The seed's ap = +100.000 mm lies outside the grid "
        "(-7.800 .. +5.400 mm). Coordinates are millimetres from bregma, in the order x=ML, "
        "y=AP, z=DV.\n"
    )


def test_cli_find(synthetic_dir, ds, tmp_path, capsys):
    csv = tmp_path / "f.csv"
    argv = ["find", "--source", str(synthetic_dir), "--target", "CA1", "--contrast", "HPF"]
    assert main([*argv, "--mapping", "Allen", "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "Enrichment in CA1" in out and "against HPF" in out
    expected = agea_xr.gene_finder(ds, "CA1", "HPF", mapping="Allen")
    got = pd.read_csv(csv)
    assert got["experiment"].tolist() == expected["experiment"].tolist()
    np.testing.assert_allclose(got["effect_size"], expected["effect_size"], rtol=1e-9)


def test_find_default_mapping_is_beryl_and_genes_restrict(synthetic_dir, ds, tmp_path, capsys):
    csv = tmp_path / "f.csv"
    argv = ["find", "--source", str(synthetic_dir), "--target", "CA1", "--csv", str(csv)]
    assert main([*argv, "--gene", "Pdyn", "--gene", "Gene0002", "--no-progress"]) == 0
    subset = ds.sel(gene=["Pdyn", "Gene0002"])
    expected = agea_xr.gene_finder(subset, "CA1", mapping="Beryl")
    got = pd.read_csv(csv)
    assert sorted(got["experiment"]) == sorted(subset.experiment.values.tolist())
    assert got["experiment"].tolist() == expected["experiment"].tolist()
    np.testing.assert_allclose(got["effect_size"], expected["effect_size"], rtol=1e-9)


def test_several_targets_repeat_the_flag(synthetic_dir, ds, tmp_path, capsys):
    csv = tmp_path / "f.csv"
    argv = ["find", "--source", str(synthetic_dir), "--target", "CA1", "--target", "CA3"]
    assert main([*argv, "--mapping", "Allen", "--csv", str(csv), "--no-progress"]) == 0
    expected = agea_xr.gene_finder(ds, ["CA1", "CA3"], mapping="Allen")
    np.testing.assert_allclose(pd.read_csv(csv)["effect_size"], expected["effect_size"], rtol=1e-9)


def test_cli_error_is_one_line(synthetic_dir, capsys):
    assert main(["find", "--source", str(synthetic_dir), "--target", "CA11"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("agea-xr find: error: Unknown brain region acronym 'CA11'")


def test_unknown_gene_and_mapping_are_refused_before_work(capsys):
    assert main(["regions", "--sample", "--gene", "pdyn"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("agea-xr regions: error: Gene 'pdyn' is not in this dataset.")
    assert "Closest matches: Pdyn" in err
    assert main(["regions", "--sample", "--mapping", "Berly"]) == 1
    assert "Did you mean 'Beryl'" in capsys.readouterr().err


def test_csv_folder_is_checked_before_the_computation(tmp_path, capsys):
    csv = tmp_path / "no" / "r.csv"
    # the source does not exist either: the --csv folder is checked first
    argv = ["regions", "--source", str(tmp_path / "nothing"), "--csv", str(csv)]
    assert main(argv) == 1
    assert capsys.readouterr().err == (
        f"agea-xr regions: error: The folder '{csv.parent}' of --csv '{csv}' does not exist: "
        "create it first (mkdir -p) or choose another path.\n"
    )


def test_cli_distributed_scheduler(synthetic_dir, capsys):
    pytest.importorskip("distributed")
    argv = ["find", "--source", str(synthetic_dir), "--target", "CA1"]
    assert main([*argv, "--scheduler", "distributed", "--no-progress"]) == 0
    assert "Enrichment in CA1" in capsys.readouterr().out


def test_progress_bar_is_tqdm_on_stderr(synthetic_dir, capsys, monkeypatch):
    from agea_xr.cli import analysis

    # a bar appears for computations longer than the delay; zero shows every one
    monkeypatch.setattr(analysis, "PROGRESS_DELAY", 0.0)
    argv = ["regions", "--source", str(synthetic_dir), "--scheduler", "synchronous"]
    assert main(argv) == 0
    assert "regions: 100%" in capsys.readouterr().err
    assert main([*argv, "--no-progress"]) == 0
    assert capsys.readouterr().err == ""


def test_one_bar_spans_every_computation_of_a_command(
    synthetic_dir, tmp_path, capsys, monkeypatch
):
    # clusters computes several times, each under the delay: one bar for the command
    # counts them all (one bar each never showed)
    from agea_xr.cli import analysis

    monkeypatch.setattr(analysis, "PROGRESS_DELAY", 0.0)
    out = tmp_path / "c.nc"
    argv = ["clusters", "--source", str(synthetic_dir), "--n", "3", "-o", str(out)]
    assert main([*argv, "--scheduler", "synchronous"]) == 0
    finals = [
        line
        for line in capsys.readouterr().err.replace("\r", "\n").splitlines()
        if line.startswith("clusters: 100%")
    ]
    done, total = finals[-1].split("| ")[1].split(" ")[0].split("/")
    assert done == total and int(total) > 20  # several computations' tasks
    assert len({f.split("| ")[1].split(" ")[0] for f in finals}) == 1  # one bar


def test_correlate_on_one_experiment_says_a_correlation_needs_two(tmp_path, capsys):
    one = tmp_path / "one.nc"
    assert main(["export", str(one), "--sample", "--gene", "Pdyn", "--no-progress"]) == 0
    capsys.readouterr()
    argv = ["correlate", "--source", str(one), "--seed", "0", "-2", "-2"]
    assert main([*argv, "--min-experiments", "1", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "a correlation needs at least 2 experiments; --min-experiments 1" in err
    assert "needs a dataset of at least 2 experiments" in err
    assert "lower --min-experiments" not in err
