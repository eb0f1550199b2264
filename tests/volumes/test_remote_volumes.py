"""Cell types and lipids read lazily from S3 (moto), equal to the local files.

Network failures are the genes' errors: a ConnectionError or PermissionError naming
the URL, never a missing file; a bucket that does not exist says so.
"""

from __future__ import annotations

import re
import socket

import numpy as np
import pytest

import agea_xr.testing as t
from agea_xr import layout
from agea_xr import volumes_layout as vl
from agea_xr.volumes import open_atlas, open_cell_types, open_lipids

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
    np.testing.assert_array_equal(values, expected.astype(np.float32), strict=True)
    np.testing.assert_array_equal(
        ct.density.sel(cell_type=ct.cell_type.values[2:5]).values,
        local.density.values[2:5],
        strict=True,
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


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("kind", ["merfish", "lipids"])
def test_an_unreachable_bucket_is_a_connection_error_naming_the_url(kind):
    url = vl.MERFISH_URL if kind == "merfish" else vl.LIPIDS_URL
    options = {"endpoint_url": f"http://127.0.0.1:{_closed_port()}"}
    if kind == "merfish":
        with pytest.raises(ConnectionError) as info:
            open_cell_types(url, level="class", storage_options=options)
    else:
        with pytest.raises(ConnectionError) as info:
            open_lipids(url, storage_options=options)
    message = str(info.value)
    assert message.startswith(f"Cannot reach {url!r} (endpoint {options['endpoint_url']}): ")
    assert "No 'merfish_class_labels.npy'" not in message
    # the offline advice is the volumes' own, not the genes' (open_sample has no cell types)
    assert "agea_xr.download(cell_types=..., lipids=True)" in message
    assert "AGEA_XR_OFFLINE=1" in message and "open_sample" not in message
    atlas = url.rsplit("/", 1)[0]
    with pytest.raises(ConnectionError, match=re.escape(f"Cannot reach '{atlas}/")):
        open_atlas(atlas, storage_options=options)


def test_a_bucket_that_does_not_exist_says_so(s3_server):
    options = {"anon": True, "endpoint_url": s3_server.endpoint}
    url = "s3://agea-no-such-bucket/atlas/merfish"
    with pytest.raises(FileNotFoundError) as info:
        open_cell_types(url, level="class", storage_options=options)
    assert str(info.value) == (
        f"The bucket 'agea-no-such-bucket' of '{url}/merfish_class_labels.npy' (endpoint "
        f"{s3_server.endpoint}) does not exist: check the URL (and the endpoint_url in "
        "storage_options, for a mirror)."
    )


def test_a_failure_after_opening_names_the_volume(s3_server, remote_root):
    proxy = s3_server.proxy()
    options = proxy.storage_options()
    ct = open_cell_types(f"{remote_root}/merfish", "class", storage_options=options)
    proxy.stop()
    url = f"{remote_root}/merfish/{vl.volume_file('class')}"
    with pytest.raises(ConnectionError, match=re.escape(f"Cannot reach {url!r}")):
        ct.density.isel(cell_type=1).values
    with pytest.raises(ConnectionError, match=re.escape("Cannot reach 's3://agea-volumes/")):
        open_cell_types(f"{remote_root}/merfish", "class", storage_options=options)


def test_missing_credentials_are_a_permission_error_naming_the_url(
    s3_server, remote_root, monkeypatch
):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    options = {"endpoint_url": s3_server.endpoint}
    with pytest.raises(PermissionError, match="No S3 credentials were found to read") as info:
        open_lipids(f"{remote_root}/lipids", storage_options=options)
    assert f"{remote_root}/lipids" in str(info.value) and "'anon': True" in str(info.value)
