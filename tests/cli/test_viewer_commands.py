"""``agea-xr export --format ome-zarr|nifti|nrrd`` and ``agea-xr references``."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import xarray as xr
import zarr
from nibabel.affines import apply_affine

import agea_xr
from agea_xr import layout
from agea_xr.cli import main


def test_export_nifti_of_one_gene_with_ccf_origin(tmp_path, capsys):
    out = tmp_path / "pdyn.nii.gz"
    argv = ["export", str(out), "--sample", "--gene", "Pdyn", "--origin", "ccf", "--no-progress"]
    assert main(argv) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    image = nib.load(str(out))
    sample = agea_xr.open_sample()
    np.testing.assert_array_equal(
        np.asanyarray(image.dataobj), sample.expression.sel(gene="Pdyn").squeeze().values
    )
    np.testing.assert_allclose(apply_affine(image.affine, (0, 0, 0)), [0, 0, 0], atol=1e-6)


def test_export_format_option_wins_over_the_suffix(tmp_path, capsys):
    out = tmp_path / "atlas.store"
    assert main(["export", str(out), "--sample", "--format", "ome-zarr", "--no-progress"]) == 0
    root = zarr.open_group(str(out), mode="r")
    assert root.attrs["agea_xr"]["images"] == ["Pdyn_71717084", "Nrp1_74272479"]
    capsys.readouterr()


def test_export_of_several_volumes_to_nrrd_is_one_clear_error(tmp_path, capsys):
    assert main(["export", str(tmp_path / "x.nrrd"), "--sample", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("agea-xr export: error: A NRRD file holds one volume")
    assert "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_references_command_writes_what_plain_xarray_opens(synthetic_dir, tmp_path, capsys):
    out = tmp_path / "refs.json"
    assert main(["references", str(out), "--source", str(synthetic_dir)]) == 0
    assert 'engine="kerchunk"' in capsys.readouterr().out
    refs = json.loads(out.read_text())["refs"]
    assert refs["expression/5.0.0.0"][1:] == [5 * layout.VOLUME_BYTES, layout.VOLUME_BYTES]
    ds = xr.open_dataset(str(out), engine="kerchunk")  # kerchunk takes str paths only
    np.testing.assert_array_equal(
        ds.expression.values.astype(np.float32), agea_xr.open_dataset(synthetic_dir).expression
    )
    assert main(["references", str(out), "--source", str(synthetic_dir)]) == 1
    assert "exists" in capsys.readouterr().err
