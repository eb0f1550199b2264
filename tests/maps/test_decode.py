"""decode on the real sample: a caudoputamen map finds Pdyn before Nrp1; the CLI command."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import agea_xr
from agea_xr.analysis import gene_finder, similar_genes
from agea_xr.analysis.decode import decode
from agea_xr.cli import main

from .conftest import upsample
from .test_read_map import allen_affine


@pytest.fixture(scope="module")
def ds():
    return agea_xr.open_sample()


@pytest.fixture(scope="module")
def cp(ds):
    return ds.agea.region_mask("CP").rename("CP")


def test_caudoputamen_map_ranks_pdyn_above_nrp1(ds, cp):
    found = ds.agea.decode(cp.astype(np.float32))
    genes = found.genes["gene"].tolist()
    assert genes.index("Pdyn") < genes.index("Nrp1")
    r = found.genes.set_index("gene")["r"]
    assert r["Pdyn"] > 0.3 > r["Nrp1"]
    expected = similar_genes(ds, cp.astype(np.float32))
    pd.testing.assert_frame_equal(found.genes, expected)
    assert found.regions["acronym"].iloc[0] == "CP"


def test_region_ranking_equals_numpy(ds):
    rng = np.random.default_rng(0)
    values = ds.label.copy(data=rng.random(ds.label.shape)).astype(np.float32).rename("noise")
    found = decode(ds, values)
    ids = ds.agea.regions("Beryl").values.ravel()
    inside = ids != 0
    reference = pd.Series(values.values.ravel()[inside]).groupby(ids[inside]).mean()
    got = found.regions.set_index("region")["mean"]
    np.testing.assert_allclose(got.loc[reference.index], reference.values, rtol=1e-6)
    assert (np.diff(found.regions["mean"].to_numpy()) <= 0).all()


def test_boolean_map_is_the_gene_finder(ds, cp):
    found = decode(ds, cp)
    pd.testing.assert_frame_equal(found.genes, gene_finder(ds, cp, min_voxels=10))
    assert found.genes["gene"].iloc[0] == "Pdyn"
    assert found.regions["acronym"].iloc[0] == "CP"


def test_a_file_decodes_as_its_grid_map(tmp_path, ds, cp):
    fine = upsample(cp.values.astype(np.float32), 50)
    nib.save(nib.Nifti1Image(fine, allen_affine(50)), tmp_path / "cp.nii.gz")
    from_file = decode(ds, tmp_path / "cp.nii.gz")
    from_grid = decode(ds, cp.astype(np.float32))
    np.testing.assert_allclose(from_file.genes["r"], from_grid.genes["r"], rtol=1e-6)
    with pytest.raises(ValueError, match="label map"):
        decode(ds, ds.label.values.astype(np.uint16), kind="labels", resolution_um=200)


def test_cli_decode(tmp_path, cp, capsys):
    fine = upsample(cp.values.astype(np.float32), 50)
    nib.save(nib.Nifti1Image(fine, allen_affine(50)), tmp_path / "cp.nii.gz")
    out = tmp_path / "genes.csv"
    code = main(
        ["decode", str(tmp_path / "cp.nii.gz"), "--sample", "--no-progress", "--csv", str(out)]
    )
    text = capsys.readouterr()
    assert code == 0, text.err
    table = pd.read_csv(out)
    assert table["gene"].tolist() == ["Pdyn", "Nrp1"]
    assert "CP" in text.out
    assert main(["decode", str(tmp_path / "none.nii"), "--sample"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_decode_with_spatial_nulls_equals_the_analyses(ds, cp):
    # continuous maps: similar_genes' p_spatial and q; boolean maps: gene_finder's
    continuous = decode(ds, cp.astype(np.float32), n_null=200, random_state=3)
    expected = similar_genes(ds, cp.astype(np.float32), n_null=200, random_state=3)
    pd.testing.assert_frame_equal(continuous.genes, expected)
    assert {"p_spatial", "q"} <= set(continuous.genes.columns)
    assert ((continuous.genes["p_spatial"] > 0) & (continuous.genes["p_spatial"] <= 1)).all()
    boolean = decode(ds, cp, n_null=200, random_state=3)
    reference = gene_finder(ds, cp, min_voxels=10, n_null=200, random_state=3)
    pd.testing.assert_frame_equal(boolean.genes, reference)
    again = decode(ds, cp, n_null=200, random_state=3)
    pd.testing.assert_frame_equal(again.genes, boolean.genes)  # reproducible


def test_cli_decode_with_nulls(tmp_path, cp, capsys):
    np.save(tmp_path / "cp.npy", cp.values.astype(np.float32))
    out = tmp_path / "genes.csv"
    argv = ["decode", str(tmp_path / "cp.npy"), "--sample", "--resolution-um", "200"]
    argv += ["--orientation", "lsa", "--n-null", "100", "--random-state", "1"]
    code = main([*argv, "--no-progress", "--csv", str(out)])
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(out)
    expected = decode(
        ds=agea_xr.open_sample(), map=cp.astype(np.float32), n_null=100, random_state=1
    )
    np.testing.assert_allclose(table["p_spatial"], expected.genes["p_spatial"])


def test_a_0_1_integer_map_is_a_region_the_gene_finder_targets(tmp_path, ds, cp):
    # NIfTI has no boolean type: a region drawn by hand is saved as 0/1 uint8
    fine = upsample(cp.values.astype(np.uint8), 50)
    nib.save(nib.Nifti1Image(fine, allen_affine(50)), tmp_path / "cp_mask.nii.gz")
    grid = agea_xr.read_map(tmp_path / "cp_mask.nii.gz")
    assert grid.dtype == bool and grid.attrs["kind"] == "mask"
    np.testing.assert_array_equal(grid.values, cp.values)
    found = decode(ds, tmp_path / "cp_mask.nii.gz")
    pd.testing.assert_frame_equal(found.genes, gene_finder(ds, cp, min_voxels=10))
    # any other integer map stays continuous
    counts = agea_xr.read_map(cp.values.astype(np.uint8) * 3, resolution_um=200, orientation="lsa")
    assert counts.dtype.kind == "f"


def test_maps_that_are_not_numbers_are_refused(ds):
    text = np.full((58, 41, 67), "1.5")
    with pytest.raises(TypeError, match=r"holds <U3 values, not numbers.*astype"):
        agea_xr.read_map(text, resolution_um=200, orientation="lsa")
    pdyn = ds.agea.gene("Pdyn")
    with pytest.raises(TypeError, match=r"a must hold numbers.*got dtype <U"):
        agea_xr.compare_maps(pdyn.astype(str), pdyn, n_null=10)


def test_an_array_at_a_resolution_the_ccf_does_not_have_names_it():
    with pytest.raises(ValueError, match=r"resolution_um=\[30\.0\] is not a resolution of the"):
        agea_xr.read_map(np.zeros((528, 320, 456)), resolution_um=30, orientation="asl")
