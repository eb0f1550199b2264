"""Remote rows: open and one experiment from a local S3 server vs a local folder; bytes moved.

The S3 server is moto's ThreadedMotoServer on loopback, holding a 64-experiment
synthetic release (20 MB binary): moto copies the whole object for every ranged
GET, so a full-size binary would measure moto, not agea-xr. Loopback has no
network latency either: on the real bucket, expect one round trip (tens of ms)
per request on top of these figures. The wire bytes are counted by a TCP proxy
between the client and the server.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from agea_xr import layout, open_dataset
from benchmarks.common import Case

N_REMOTE = 64
MIDDLE = N_REMOTE // 2
NOTE = (
    f"{N_REMOTE}-experiment release on moto (loopback; moto copies the whole object per "
    "ranged GET, so objects are kept small)"
)


def _release(_folder: Path) -> dict:
    """Start the server, upload the release (public-read); the URL, options and local copy."""
    import boto3
    from moto.server import ThreadedMotoServer

    from agea_xr.testing import write_synthetic
    from tests.s3server import TcpProxy

    local = write_synthetic(Path(tempfile.mkdtemp()) / "agea", N_REMOTE)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    client.create_bucket(Bucket="agea-bench", ACL="public-read")
    for path in local.iterdir():
        client.put_object(
            Bucket="agea-bench", Key=f"agea/{path.name}", Body=path.read_bytes(), ACL="public-read"
        )
    proxy = TcpProxy(port)
    return {
        "url": "s3://agea-bench/agea",
        "options": {"anon": True, "endpoint_url": endpoint},
        "proxied": {"anon": True, "endpoint_url": proxy.endpoint},
        "proxy": proxy,
        "local": local,
        "server": server,
    }


def _open_remote(state):
    return open_dataset(state["url"], storage_options=state["options"])


def _open_local(state):
    return open_dataset(state["local"])


def _remote_lazy(folder):
    state = _release(folder)
    state["ds"] = open_dataset(state["url"], chunks=None, storage_options=state["options"])
    return state


def _local_lazy(folder):
    state = _release(folder)
    state["ds"] = open_dataset(state["local"], chunks=None)
    return state


def _one(state):
    return state["ds"].expression.isel(experiment=MIDDLE).values


WIRE = {"note": NOTE}


def _wire_setup(folder):
    state = _release(folder)
    state["ds"] = open_dataset(state["url"], chunks=None, storage_options=state["proxied"])
    return state


def _one_counted(state):
    proxy = state["proxy"]
    before_bytes, before_requests = proxy.downstream, proxy.requests
    values = state["ds"].expression.isel(experiment=MIDDLE).values
    moved = proxy.downstream - before_bytes
    requests = proxy.requests - before_requests
    WIRE["note"] = (
        f"{moved:,} bytes in {requests} request(s) per experiment on the wire "
        f"(volume {layout.VOLUME_BYTES:,} B + {moved - layout.VOLUME_BYTES:,} B of HTTP); " + NOTE
    )
    return values


CASES = [
    Case(
        "remote: open, local folder (64 exp.)",
        run=_open_local,
        setup=_release,
        repeat=7,
        note="baseline: the same release from disk",
    ),
    Case(
        "remote: open, local S3 server (64 exp.)",
        run=_open_remote,
        setup=_release,
        baseline="remote: open, local folder (64 exp.)",
        repeat=7,
        note=NOTE,
    ),
    Case(
        "remote: one experiment, local file",
        run=_one,
        setup=_local_lazy,
        repeat=20,
        note="chunks=None, os.pread of 318,652 bytes",
    ),
    Case(
        "remote: one experiment, local S3 server",
        run=_one,
        setup=_remote_lazy,
        baseline="remote: one experiment, local file",
        repeat=20,
        note=NOTE,
    ),
    Case(
        "remote: one experiment, bytes on the wire",
        run=_one_counted,
        setup=_wire_setup,
        baseline="remote: one experiment, local S3 server",
        repeat=20,
        note=NOTE,
        extra=WIRE,
    ),
]
