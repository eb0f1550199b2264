"""``info``, ``genes``, ``export``, ``download``: the data, its genes, its files."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import xarray as xr

import agea_xr
from agea_xr import layout
from agea_xr.cli import main


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, object]:
    """The bundled sample exported by the library to netCDF and to Zarr."""
    folder = tmp_path_factory.mktemp("exports")
    sample = agea_xr.open_sample()
    return {
        fmt: agea_xr.export(sample, folder / f"sample.{fmt}", progress=False)
        for fmt in ("nc", "zarr")
    }


# --- info --------------------------------------------------------------------------------
def test_info_on_synthetic(synthetic_dir, capsys):
    assert main(["info", "--source", str(synthetic_dir)]) == 0
    out = capsys.readouterr().out
    assert "experiments: 12   genes: " in out
    assert "ml: -5.739 .. +5.661 mm (58 voxels)" in out
    assert "ap: +5.400 .. -7.800 mm (67 voxels)" in out
    assert "dv: +0.332 .. -7.668 mm (41 voxels)" in out
    assert "data version: 2025-03-18" in out
    assert "gene-expression.bin (3,823,824 B)" in out
    assert "dtype: float32" in out


def test_info_without_mask_and_scale_gives_the_stored_float16(synthetic_dir, capsys):
    assert main(["info", "--source", str(synthetic_dir), "--no-mask-and-scale"]) == 0
    assert "dtype: float16" in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["nc", "zarr"])
def test_info_opens_an_export(exports, fmt, capsys):
    path = exports[fmt]
    assert main(["info", "--source", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"AGEA dataset: {path}\n")
    assert "experiments: 2   genes: 2" in out
    assert "ap: +5.400 .. -7.800 mm (67 voxels)" in out
    assert "dtype: float32" in out  # decoded as open_dataset does, also from Zarr's float16
    assert f"export: {path} (" in out


def test_variant_is_refused_for_an_export(exports, capsys):
    assert main(["info", "--source", str(exports["nc"]), "--variant", "processed"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("agea-xr info: error: --variant processed does not apply to the export")


@pytest.mark.parametrize("fmt", ["nc", "zarr"])
def test_regions_on_an_export_equals_regions_on_the_sample(exports, fmt, tmp_path, capsys):
    from_export, from_sample = tmp_path / "export.csv", tmp_path / "sample.csv"
    base = ["regions", "--mapping", "Cosmos", "--no-progress", "--scheduler", "synchronous"]
    assert main([*base, "--source", str(exports[fmt]), "--csv", str(from_export)]) == 0
    assert main([*base, "--sample", "--csv", str(from_sample)]) == 0
    assert "mean expression per Cosmos region (2 experiments x" in capsys.readouterr().out
    assert from_export.read_text() == from_sample.read_text()
    expected = agea_xr.region_expression(agea_xr.open_sample(), "Cosmos").compute()
    table = np.genfromtxt(from_export, delimiter=",", names=True, dtype=None, encoding=None)
    np.testing.assert_allclose(table["HPF"], expected.sel(region=1089).values, rtol=1e-9)


# --- genes -------------------------------------------------------------------------------
def test_genes_lists_every_gene_with_its_experiments(synthetic_dir, capsys):
    assert main(["genes", "--source", str(synthetic_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["gene", "experiments", "ids"]
    ds = agea_xr.open_dataset(synthetic_dir)
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert len(rows) == len(set(ds.gene.values))
    for gene in rows:
        ids = ds.experiment.values[ds.gene.values == gene].tolist()
        assert rows[gene] == [str(len(ids)), *map(str, ids)]
    assert any(int(n) > 1 for n, *_ in rows.values())  # genes with several experiments


def test_genes_searches_case_insensitively(capsys):
    assert main(["genes", "RP", "--sample"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split() == ["Nrp1", "1", "74272479"]
    assert main(["genes", "pdyn", "--sample"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["Pdyn            1  71717084"]


def test_genes_without_a_match_exits_1_with_the_closest(capsys):
    assert main(["genes", "Pdym", "--sample"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "No gene symbol contains 'Pdym' (of 2 genes). Closest symbols: Pdyn.\n"


def test_genes_of_an_export(exports, capsys):
    assert main(["genes", "--source", str(exports["zarr"])]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == [
        "gene",
        "Pdyn",
        "Nrp1",
    ]


# --- export ------------------------------------------------------------------------------
def test_cli_export(synthetic_dir, tmp_path, capsys):
    out = tmp_path / "pdyn.nc"
    args = ["export", str(out), "--source", str(synthetic_dir), "--gene", "Pdyn"]
    assert main([*args, "--region", "CA1", "--mapping", "Allen"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"wrote {out} (")
    assert "export pdyn.nc" in captured.err  # the progress bar
    ds = agea_xr.open_dataset(synthetic_dir)
    reference = agea_xr.export(
        ds, tmp_path / "ref.nc", genes="Pdyn", regions="CA1", mapping="Allen", progress=False
    )
    back = agea_xr.open_export(out)
    xr.testing.assert_identical(back.expression, agea_xr.open_export(reference).expression)
    assert back.expression.shape[0] == 1 and np.isfinite(back.expression.values).any()
    assert main([*args, "--no-progress"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main([*args, "--no-progress", "--overwrite", "--variant", "processed"]) == 0
    assert capsys.readouterr().err == ""
    back = agea_xr.open_export(out)
    assert back.attrs["variant"] == "processed"
    assert back.expression.shape == (1, *layout.GRID_SHAPE)


def test_export_of_several_genes_and_experiments(synthetic_dir, tmp_path, capsys):
    ds = agea_xr.open_dataset(synthetic_dir)
    ids = ds.experiment.values[[0, 3]].tolist()
    out = tmp_path / "two.zarr"
    argv = ["export", str(out), "--source", str(synthetic_dir), "--no-progress"]
    assert main([*argv, "--experiment", str(ids[0]), "--experiment", str(ids[1])]) == 0
    assert agea_xr.open_export(out).experiment.values.tolist() == ids
    genes = ["Pdyn", "Gene0002"]
    out = tmp_path / "genes.nc"
    argv = ["export", str(out), "--source", str(synthetic_dir), "--no-progress"]
    assert main([*argv, "--gene", genes[0], "--gene", genes[1]]) == 0
    expected = ds.experiment.values[np.isin(ds.gene.values, genes)].tolist()
    assert sorted(agea_xr.open_export(out).experiment.values.tolist()) == sorted(expected)


def test_export_checks_its_folder_before_reading(tmp_path, capsys):
    missing = tmp_path / "no" / "x.nc"
    # the source does not exist either: the output is checked first
    argv = ["export", str(missing), "--source", str(tmp_path / "nothing"), "--no-progress"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"agea-xr export: error: The folder '{missing.parent}' of OUT")
    assert main(["export", str(tmp_path / "x.txt"), "--sample"]) == 1
    assert "Cannot tell the export format of" in capsys.readouterr().err


# --- download ----------------------------------------------------------------------------
@pytest.fixture
def no_network(monkeypatch):
    """Any connection attempt fails the command (and is recorded)."""
    attempts = []

    def connect(sock, address):
        attempts.append(address)
        raise OSError(f"network used: connect to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    monkeypatch.setattr(
        socket, "create_connection", lambda address, *a, **k: connect(None, address)
    )
    return attempts


def test_download_check_offline_rehashes_the_cache_without_the_network(
    tmp_path, capsys, no_network
):
    cache = tmp_path / "cache"
    agea_xr.download(agea_xr.sample_path(), cache_dir=cache, progress=False)
    argv = ["download", "--check", "--offline", "--cache-dir", str(cache), "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    checked = sorted(out[0].removeprefix("checked (sha256): ").split(", "))
    assert checked == sorted([layout.TABLE_FILE, layout.LABEL_FILE, layout.VARIANTS["raw"]])
    assert out[-1] == f"raw release unknown in {cache}: cache complete, offline"
    # a damaged file is found, removed and reported missing: exit code 1
    (cache / layout.LABEL_FILE).write_bytes(b"damaged")
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert f"failed verification, removed: {layout.LABEL_FILE}" in out
    assert f"missing (not downloaded: offline): {layout.LABEL_FILE}" in out
    assert "cache incomplete (run `agea-xr download --variant raw`" in out
    assert not (cache / layout.LABEL_FILE).exists()
    assert no_network == []


# --- ingest ------------------------------------------------------------------------------
def test_ingest_checks_its_inputs_and_output_folder_first(allen_dir, tmp_path, capsys):
    zips = sorted(str(p) for p in allen_dir.glob("*_200um.zip"))
    out = tmp_path / "no" / "agea"
    assert main(["ingest", *zips, str(out), "--no-progress"]) == 1
    assert capsys.readouterr().err == (
        f"agea-xr ingest: error: The folder '{out.parent}' of OUT_FOLDER '{out}' does not "
        "exist: create it first (mkdir -p) or choose another path.\n"
    )
    missing = tmp_path / "Pdyn.zip"
    assert main(["ingest", str(missing), str(tmp_path / "agea")]) == 1
    assert capsys.readouterr().err == (
        f"agea-xr ingest: error: ZIP '{missing}' does not exist: check the path.\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_overwrite_hint_names_the_flag_once(tmp_path, capsys):
    out = tmp_path / "pdyn.nc"
    assert main(["export", str(out), "--sample", "--gene", "Pdyn", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["export", str(out), "--sample", "--gene", "Pdyn", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "pass --overwrite to replace it" in err
    assert err.count("--overwrite") == 1
