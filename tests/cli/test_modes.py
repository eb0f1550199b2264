"""``similar`` and ``clusters``: AGEA's modes from the command line equal the library's."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import agea_xr
from agea_xr.cli import main


def test_similar_equals_the_library(tmp_path, capsys):
    csv = tmp_path / "s.csv"
    argv = ["similar", "Pdyn", "--sample", "--region", "CP", "--csv", str(csv), "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "ranked by Pearson r with Pdyn (experiment 71717084) inside CP" in out
    table = pd.read_csv(csv)
    want = agea_xr.similar_genes(agea_xr.open_sample(), "Pdyn", "CP", mapping="Beryl")
    assert table["experiment"].tolist() == want["experiment"].tolist()
    np.testing.assert_allclose(table["r"], want["r"], rtol=1e-12)
    assert table["n_voxels"].tolist() == want["n_voxels"].tolist()
    assert table["r"].iloc[0] == pytest.approx(1.0)


def test_similar_by_experiment_spearman_on_synthetic(synthetic_dir, ds, tmp_path, capsys):
    csv = tmp_path / "s.csv"
    experiment = int(ds["experiment"].values[3])
    argv = ["similar", str(experiment), "--source", str(synthetic_dir), "--method", "spearman"]
    assert main([*argv, "--top", "3", "--csv", str(csv), "--scheduler", "synchronous"]) == 0
    out = capsys.readouterr().out
    assert "12 experiments ranked by Spearman r" in out
    assert len(out.strip().splitlines()) == 2 + 3  # heading, header, 3 rows
    table = pd.read_csv(csv)
    want = agea_xr.similar_genes(ds, experiment, method="spearman", mapping="Beryl")
    np.testing.assert_allclose(table["r"], want["r"], rtol=1e-12)
    assert table["experiment"].iloc[0] == experiment


def test_similar_with_spatial_p_equals_the_library(synthetic_dir, ds, tmp_path):
    csv = tmp_path / "p.csv"
    experiment = int(ds["experiment"].values[3])
    argv = ["similar", str(experiment), "--source", str(synthetic_dir), "--n-null", "19"]
    argv += ["--random-state", "5", "--csv", str(csv), "--scheduler", "synchronous"]
    assert main(argv) == 0
    table = pd.read_csv(csv)
    want = agea_xr.similar_genes(ds, experiment, mapping="Beryl", n_null=19, random_state=5)
    assert table["experiment"].tolist() == want["experiment"].tolist()
    np.testing.assert_allclose(table["p_spatial"], want["p_spatial"], rtol=1e-12)
    np.testing.assert_allclose(table["q"], want["q"], rtol=1e-12)


def test_similar_unknown_gene_is_a_message(capsys):
    assert main(["similar", "Pdyyn", "--sample", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("agea-xr similar: error:") and "Pdyn" in err
    assert "Traceback" not in err


def test_clusters_writes_the_library_volume_and_a_picture(synthetic_dir, ds, tmp_path, capsys):
    out = tmp_path / "c.nc"
    argv = ["clusters", "--source", str(synthetic_dir), "--n", "3", "5", "-o", str(out)]
    argv += ["--region", "CB", "--components", "4", "--random-state", "3"]
    assert main([*argv, "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "wrote 3, 5 clusters of" in printed
    assert f"to {out} and {out.with_suffix('.png')}" in printed
    want = agea_xr.clusters(
        ds, [3, 5], None, ["CB"], mapping="Beryl", n_components=4, random_state=3
    )
    with xr.open_dataset(out) as got:
        assert got["n_clusters"].values.tolist() == [3, 5]
        np.testing.assert_array_equal(got["cluster"].values, want.values)
        np.testing.assert_array_equal(got["label"].values, ds["label"].values)
        assert got.attrs["Conventions"] == "CF-1.10"
        assert "agea-xr" in got.attrs["history"]
        np.testing.assert_allclose(got["cluster"].attrs["linkage"], want.attrs["linkage"])
    picture = matplotlib.image.imread(out.with_suffix(".png"))
    assert picture.ndim == 3 and picture.shape[1] > 2 * picture.shape[0]  # three panels
    # an existing output is refused without --overwrite, before any work
    assert main([*argv, "--no-progress"]) == 1
    assert "--overwrite" in capsys.readouterr().err


def test_clusters_refuses_other_formats_before_work(tmp_path, capsys):
    assert main(["clusters", "--sample", "--n", "3", "-o", str(tmp_path / "c.zarr")]) == 1
    assert "give a name ending in .nc" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        main(["clusters", "--sample", "--n", "0", "-o", str(tmp_path / "c.nc")])
    assert done.value.code == 2
    assert "argument --n: must be at least 1, got 0." in capsys.readouterr().err
