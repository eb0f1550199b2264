"""The ``agea`` engine: xarray's keywords, cheap import, same Dataset as the front door."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import agea_xr
from agea_xr import layout


@pytest.mark.parametrize(
    "kwargs",
    [{"mask_and_scale": False}, {"decode_cf": False}],
    ids=["mask_and_scale", "decode_cf"],
)
def test_xarray_switches_give_the_stored_float16(synthetic_dir, synthetic_raw, kwargs):
    ds = xr.open_dataset(synthetic_dir, engine="agea", **kwargs)
    assert ds.expression.dtype == np.float16
    np.testing.assert_array_equal(ds.expression.values, synthetic_raw)
    assert (ds.expression.values == -1).sum() == (synthetic_raw == -1).sum() > 0


def test_xarray_defaults_decode_like_open_dataset(synthetic_dir):
    via_xarray = xr.open_dataset(synthetic_dir, engine="agea", chunks={})
    front_door = agea_xr.open_dataset(synthetic_dir)
    xr.testing.assert_identical(via_xarray, front_door)
    assert via_xarray.expression.dtype == np.float32


@pytest.mark.parametrize(
    "decoder",
    ["decode_times", "concat_characters", "decode_coords", "use_cftime", "decode_timedelta"],
)
def test_decoders_with_nothing_to_decode_are_accepted(synthetic_dir, decoder):
    ds = xr.open_dataset(synthetic_dir, engine="agea", **{decoder: False})
    assert ds.expression.dtype == np.float32  # masking stays on


def test_mask_and_scale_is_one_name_across_front_doors(synthetic_dir, synthetic_raw, tmp_path):
    raw = agea_xr.open_dataset(synthetic_dir, mask_and_scale=False)
    np.testing.assert_array_equal(raw.expression.values, synthetic_raw)
    two = list(raw.experiment.values[:2])
    path = agea_xr.export(raw, tmp_path / "x.zarr", experiments=two, dtype="float16")
    stored = agea_xr.open_export(path, mask_and_scale=False).expression
    decoded = agea_xr.open_export(path).expression
    assert (stored.dtype, decoded.dtype) == (np.float16, np.float32)
    # exports store NaN for "no measurement", never the raw -1
    np.testing.assert_array_equal(np.isnan(stored.values), synthetic_raw[:2] == -1)
    np.testing.assert_array_equal(decoded.values, stored.values.astype(np.float32))


HEAVY = ("s3fs", "iblatlas", "zarr", "matplotlib", "distributed", "numba", "dask.array", "fsspec")


def test_loading_the_engine_imports_nothing_heavy():
    # what xarray does for our engine when it lists engines: load the entry point
    code = (
        "import sys, xarray; from importlib.metadata import entry_points; "
        "before = set(sys.modules); "
        "ep, = [e for e in entry_points(group='xarray.backends') if e.name == 'agea']; "
        "ep.load(); new = set(sys.modules) - before; "
        f"print(','.join(m for m in {HEAVY!r} if m in new)); "
        "print(','.join(sorted(m for m in new if m.startswith('agea_xr'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    heavy, ours = out.stdout.split("\n")[:2]
    assert heavy == ""
    assert ours == "agea_xr,agea_xr._choices,agea_xr.backend,agea_xr.layout"


def test_listing_engines_loads_only_the_engine_of_agea_xr():
    code = (
        "import sys, xarray; xarray.backends.list_engines(); "
        "print(','.join(sorted(m for m in sys.modules if m.startswith('agea_xr'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "agea_xr,agea_xr._choices,agea_xr.backend,agea_xr.layout"


def test_engine_claims_only_release_folders(synthetic_dir, tmp_path):
    from agea_xr.backend import AgeaBackendEntrypoint

    entry = AgeaBackendEntrypoint()
    assert entry.guess_can_open(synthetic_dir)
    assert not entry.guess_can_open(tmp_path)
    assert not entry.guess_can_open(synthetic_dir / layout.TABLE_FILE)
    assert not entry.guess_can_open("s3://ibl-brain-wide-map-public/atlas/agea")
