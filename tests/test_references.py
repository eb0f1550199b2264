"""Kerchunk references read by plain xarray (agea_xr not imported), locally and over S3."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import xarray as xr

import agea_xr
from agea_xr import layout

pytest_plugins = ["tests.s3server"]

#: Run first in a fresh interpreter: agea_xr cannot be imported there (xarray's listing of
#: engines tries, and skips the agea engine with a warning), as where it is not installed.
BLOCK = "import sys; sys.modules['agea_xr'] = None\n"

#: Opens the references with xarray alone, saves what it read.
READER = BLOCK + textwrap.dedent(
    """
    import json, sys
    import numpy as np, xarray as xr
    refs, out, how, options = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    if how == "kerchunk":
        so = options
        open_ = lambda **kw: xr.open_dataset(refs, engine="kerchunk", storage_options=so, **kw)
    else:
        so = {"fo": refs, **options}
        open_ = lambda **kw: xr.open_zarr("reference://", storage_options=so, **kw)
    ds = open_()
    raw = open_(mask_and_scale=False)
    arrays = {"decoded": ds.expression.values, "raw": raw.expression.values}
    for name in ("experiment", "ml", "dv", "ap", "label", "image"):
        if name in ds.variables:
            arrays[name] = ds[name].values
    np.savez(out, **arrays)
    meta = {
        "gene": [str(g) for g in ds.gene.values],
        "coords": sorted(map(str, ds.coords)),
        "attrs": ds.expression.attrs,
        "dims": list(ds.expression.dims),
        "fill": str(ds.expression.encoding.get("_FillValue")),
        "agea_xr": sys.modules["agea_xr"] is not None,
    }
    print(json.dumps(meta, default=str))
    """
)

ONE = BLOCK + textwrap.dedent(
    """
    import json, sys
    import numpy as np, xarray as xr
    ds = xr.open_dataset(sys.argv[1], engine="kerchunk", storage_options=json.loads(sys.argv[3]))
    np.save(sys.argv[2], ds.expression.isel(experiment=int(sys.argv[4])).values)
    print(sys.modules["agea_xr"] is not None)
    """
)


def read_plainly(refs, tmp_path, how="kerchunk", options=None):
    out = tmp_path / f"read-{how}.npz"
    done = subprocess.run(
        [sys.executable, "-c", READER, str(refs), str(out), how, json.dumps(options or {})],
        capture_output=True,
        text=True,
        check=True,
    )
    meta = json.loads(done.stdout)
    assert meta["agea_xr"] is False
    return dict(np.load(out, allow_pickle=False)), meta


def check_same(arrays, meta, ours: xr.Dataset, raw: xr.Dataset):
    # decoded: float16 with NaN where -1 is stored, the numbers of open_dataset's float32
    assert arrays["decoded"].dtype == np.float16
    np.testing.assert_array_equal(arrays["decoded"].astype(np.float32), ours.expression.values)
    # undecoded: the stored bits, bit for bit
    assert arrays["raw"].dtype == raw.expression.dtype == np.float16
    np.testing.assert_array_equal(
        arrays["raw"].view(np.uint16), raw.expression.values.view(np.uint16)
    )
    for name in ("experiment", "ml", "dv", "ap", "label", "image"):
        if name in ours.variables:
            assert arrays[name].dtype == ours[name].dtype, name
            np.testing.assert_array_equal(arrays[name], ours[name].values)
    assert meta["gene"] == [str(g) for g in ours.gene.values]
    assert meta["dims"] == list(layout.DIMS)
    assert {"gene", "experiment", "ml", "dv", "ap"} <= set(meta["coords"])
    for key in ("long_name", "units", "comment"):
        assert meta["attrs"][key] == ours.expression.attrs[key]


@pytest.mark.parametrize("how", ["kerchunk", "reference"])
def test_local_references_read_plainly_equal_open_dataset(synthetic_dir, tmp_path, how):
    refs = agea_xr.references(synthetic_dir, tmp_path / "refs.json")
    arrays, meta = read_plainly(refs, tmp_path, how)
    ours = agea_xr.open_dataset(synthetic_dir)
    raw = agea_xr.open_dataset(synthetic_dir, mask_and_scale=False)
    assert np.isnan(arrays["decoded"]).any()  # the synthetic release has missing voxels
    check_same(arrays, meta, ours, raw)
    assert meta["fill"] == "-1.0"


def test_one_chunk_per_experiment_is_a_byte_range_of_the_binary(synthetic_dir, tmp_path):
    refs = json.loads(agea_xr.references(synthetic_dir, tmp_path / "r.json").read_text())["refs"]
    binary = str((synthetic_dir / layout.VARIANTS["raw"]).resolve())
    chunks = {k: v for k, v in refs.items() if k.startswith("expression/") and "/." not in k}
    assert len(chunks) == 12
    for i in range(12):
        assert chunks[f"expression/{i}.0.0.0"] == [
            binary,
            i * layout.VOLUME_BYTES,
            layout.VOLUME_BYTES,
        ]
    meta = json.loads(refs["expression/.zarray"])
    assert meta["dtype"] == "<f2" and meta["compressor"] is None and meta["fill_value"] == -1
    # the label is the array inside label.npy, read with numpy's own loader
    path, offset, size = refs["label/0.0.0"]
    label = np.load(synthetic_dir / layout.LABEL_FILE)
    with open(path, "rb") as f:
        f.seek(offset)
        assert f.read(size) == label.tobytes()


def test_processed_references_have_no_fill_value(synthetic_dir, tmp_path):
    refs = agea_xr.references(synthetic_dir, tmp_path / "p.json", variant="processed")
    arrays, meta = read_plainly(refs, tmp_path)
    stored = np.fromfile(synthetic_dir / layout.VARIANTS["processed"], dtype=layout.RAW_DTYPE)
    np.testing.assert_array_equal(arrays["raw"].ravel().view(np.uint16), stored.view(np.uint16))
    np.testing.assert_array_equal(arrays["decoded"].ravel(), stored)  # -1 is a value here
    assert meta["fill"] == "None"
    assert "IBL-processed" in meta["attrs"]["comment"]


def test_target_points_the_references_at_a_copy(synthetic_dir, tmp_path):
    copy = shutil.copytree(synthetic_dir, tmp_path / "copy")
    refs = agea_xr.references(synthetic_dir, tmp_path / "t.json", target=copy)
    chunks = [v for v in json.loads(refs.read_text())["refs"].values() if isinstance(v, list)]
    assert len(chunks) == 12 + 2  # the experiments, label and image
    assert {path.rsplit("/", 1)[0] for path, _, _ in chunks} == {str(copy.resolve())}


def test_refused_names_and_existing_files(synthetic_dir, tmp_path):
    with pytest.raises(ValueError, match=r"end the name with \.json"):
        agea_xr.references(synthetic_dir, tmp_path / "refs.parquet")
    out = agea_xr.references(synthetic_dir, tmp_path / "refs.json")
    before = out.read_bytes()
    with pytest.raises(FileExistsError):
        agea_xr.references(synthetic_dir, out)
    assert out.read_bytes() == before
    with pytest.raises(ValueError, match="Unknown variant"):
        agea_xr.references(synthetic_dir, tmp_path / "v.json", variant="smoothed")


# --- S3 (moto on loopback) --------------------------------------------------------------
@pytest.fixture
def _dummy_credentials(aws_env):
    """Dummy AWS credentials (never a real profile)."""


@pytest.mark.usefixtures("_dummy_credentials")
def test_s3_references_read_plainly_equal_open_dataset(remote_release, tmp_path):
    refs = agea_xr.references(
        remote_release.url, tmp_path / "s3.json", storage_options=remote_release.storage_options
    )
    chunk = json.loads(refs.read_text())["refs"]["expression/3.0.0.0"]
    assert chunk == [
        f"{remote_release.url}/{layout.VARIANTS['raw']}",
        3 * layout.VOLUME_BYTES,
        layout.VOLUME_BYTES,
    ]
    options = {"remote_protocol": "s3", "remote_options": remote_release.storage_options}
    arrays, meta = read_plainly(refs, tmp_path, options=options)
    folder = remote_release.folder
    check_same(
        arrays,
        meta,
        agea_xr.open_dataset(folder),
        agea_xr.open_dataset(folder, mask_and_scale=False),
    )


@pytest.mark.usefixtures("_dummy_credentials")
def test_one_experiment_over_s3_is_one_range_request(remote_release, s3_server, tmp_path):
    refs = agea_xr.references(
        remote_release.url, tmp_path / "s3.json", storage_options=remote_release.storage_options
    )
    proxy = s3_server.proxy()
    options = {
        "remote_protocol": "s3",
        "remote_options": {"anon": True, "endpoint_url": proxy.endpoint},
    }
    out = tmp_path / "one.npy"
    done = subprocess.run(
        [sys.executable, "-c", ONE, str(refs), str(out), json.dumps(options), "7"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "False"  # agea_xr never imported
    assert proxy.requests == 1
    # the body is the volume; the rest is the response's headers
    assert layout.VOLUME_BYTES <= proxy.downstream < layout.VOLUME_BYTES + 2000
    stored = np.fromfile(remote_release.folder / layout.VARIANTS["raw"], dtype=layout.RAW_DTYPE)
    volume = stored.reshape(-1, *layout.GRID_SHAPE)[7]
    expected = np.where(volume == layout.MISSING, np.nan, volume)
    np.testing.assert_array_equal(np.load(out), expected)
