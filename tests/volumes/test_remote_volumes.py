"""Cell types and lipids read lazily from S3 (moto), equal to the local files."""

from __future__ import annotations

import numpy as np
import pytest

import agea_xr.testing as t
from agea_xr import layout
from agea_xr import volumes_layout as vl
from agea_xr.volumes import open_cell_types, open_lipids

pytest_plugins = ["tests.s3server"]


@pytest.fixture(autouse=True)
def _dummy_credentials(aws_env):
    """Dummy AWS credentials only."""


@pytest.fixture(scope="module")
def local_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("Allen")
    t.write_agea_grid(root / "agea")
    t.write_merfish(root / "merfish", levels=("class", "cluster"))
    t.write_lipids(root / "lipids")
    return root


@pytest.fixture(scope="module")
def remote_root(s3_server, local_root):
    for kind in ("agea", "merfish", "lipids"):
        s3_server.upload("agea-volumes", f"atlas/{kind}", local_root / kind)
    return "s3://agea-volumes/atlas"


@pytest.fixture
def proxied(s3_server, remote_root):
    proxy = s3_server.proxy()
    return proxy, {"anon": True, "endpoint_url": proxy.endpoint}


def test_remote_cell_types_equal_local_and_fetch_only_the_asked_type(
    proxied, remote_root, local_root
):
    proxy, options = proxied
    url = f"{remote_root}/merfish"
    ct = open_cell_types(url, "cluster", storage_options=options)
    local = open_cell_types(local_root / "merfish", "cluster")
    assert ct.attrs["label_source"].endswith("atlas/agea/label.npy")
    np.testing.assert_array_equal(ct.label.values, local.label.values)
    # opening reads the label (int16), the tables and the 4 kB header, not the volumes
    label = (local_root / "agea" / "label.npy").stat().st_size
    assert label < proxy.downstream < label + 64 * 1024
    before_bytes, before_requests = proxy.downstream, proxy.requests
    values = ct.density.isel(cell_type=11).values
    assert proxy.requests - before_requests == 1  # one ranged GET
    moved = proxy.downstream - before_bytes
    assert layout.VOLUME_BYTES <= moved < layout.VOLUME_BYTES + 4096  # float16: 2 bytes/voxel
    expected = np.load(local_root / "merfish" / vl.volume_file("cluster"))[11]
    np.testing.assert_array_equal(values.view(np.uint16), expected.view(np.uint16))
    np.testing.assert_array_equal(
        ct.density.sel(cell_type=ct.cell_type.values[2:5]).values.view(np.uint16),
        local.density.values[2:5].view(np.uint16),
    )


def test_remote_lipids_read_only_the_kept_lipids(proxied, remote_root, local_root):
    proxy, options = proxied
    lp = open_lipids(f"{remote_root}/lipids", min_reliability=0.6, storage_options=options)
    before_bytes = proxy.downstream
    values = lp.intensity.values
    kept = np.flatnonzero(np.array(t.SYNTHETIC_RELIABILITY) >= 0.6)
    expected = np.load(local_root / "lipids" / vl.LIPID_FILE)[kept]
    np.testing.assert_array_equal(values.view(np.uint32), expected.view(np.uint32))
    moved = proxy.downstream - before_bytes
    per_lipid = 2 * layout.VOLUME_BYTES  # float32
    assert kept.size * per_lipid <= moved < (kept.size + 1) * per_lipid


def test_remote_processed_equals_local(proxied, remote_root, local_root):
    _, options = proxied
    remote = open_cell_types(
        f"{remote_root}/merfish", "class", "processed", storage_options=options
    )
    local = open_cell_types(local_root / "merfish", "class", "processed")
    np.testing.assert_array_equal(remote.density.values, local.density.values)
