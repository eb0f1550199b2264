"""A real S3-protocol server on loopback for the remote tests (a pytest plugin).

Test modules load it with ``pytest_plugins = ["tests.s3server"]``. The session
fixture :func:`s3_server` starts moto's ``ThreadedMotoServer`` on 127.0.0.1 (a
free port); :func:`remote_release` uploads the 12-experiment synthetic dataset
(both variants, label, image, a ``.version`` marker) to ``s3://agea-test/agea``
with a ``public-read`` ACL, so it is readable anonymously like the IBL bucket
(a bucket policy alone lets GET through, not HEAD). Objects stay small: moto
copies a whole object for every ranged GET.

:class:`TcpProxy` sits between the code and the server to count the bytes that
really cross the wire, to cut the connection after a given number of bytes
(the server "stops" mid-download, then starts again on the same port), and to
flip one byte in flight (corruption in transfer).

Credentials: the uploads use explicit dummy credentials; :func:`aws_env` sets
dummy ones in the environment (monkeypatch) so no real profile is ever read.

PYTEST_DONT_REWRITE: this module holds no assertions, and ``--doctest-modules``
imports it before the test modules register it as a plugin.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

DUMMY = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"


class TcpProxy:
    """A loopback TCP proxy that counts, cuts and corrupts the server-to-client bytes.

    Parameters
    ----------
    upstream_port : int
        Port of the server on 127.0.0.1.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.port = 0
        self.downstream = 0
        self.requests = 0
        self._limit: int | None = None
        self._corrupt_min: int | None = None
        self.corrupted = 0
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def storage_options(self) -> dict:
        """Anonymous fsspec options through this proxy, one attempt per request."""
        return {
            "anon": True,
            "endpoint_url": self.endpoint,
            "config_kwargs": {"retries": {"total_max_attempts": 1}},
        }

    def start(self) -> None:
        """Listen (again) on the same port."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._limit = None
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Stop listening and drop every open connection (the server goes away)."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        if listener is not None:
            listener.close()
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def cut_after(self, nbytes: int) -> None:
        """Stop the proxy once ``nbytes`` more bytes went to the client."""
        with self._lock:
            self._limit = self.downstream + nbytes

    def corrupt_next(self, min_chunk: int = 32768) -> None:
        """Flip the last byte of the next large body chunk sent to the client."""
        with self._lock:
            self._corrupt_min = min_chunk

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(
                target=self._pump, args=(client, upstream, False), daemon=True
            ).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, downstream: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                stop = False
                if downstream:
                    with self._lock:
                        if self._limit is not None and self.downstream + len(data) >= self._limit:
                            data = data[: max(0, self._limit - self.downstream)]
                            stop = True
                        if (
                            self._corrupt_min is not None
                            and len(data) >= self._corrupt_min
                            and not data.startswith(b"HTTP/")
                        ):
                            data = data[:-1] + bytes([data[-1] ^ 0xFF])
                            self._corrupt_min = None
                            self.corrupted += 1
                        self.downstream += len(data)
                elif data.startswith((b"GET ", b"HEAD ", b"PUT ", b"POST ")):
                    with self._lock:
                        self.requests += 1
                dst.sendall(data)
                if stop:
                    self.stop()
                    break
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


@dataclass
class S3Server:
    """The running moto server and a boto3 client for setting it up."""

    endpoint: str
    port: int
    client: Any
    proxies: list[TcpProxy] = field(default_factory=list)

    def proxy(self) -> TcpProxy:
        """A new :class:`TcpProxy` in front of the server."""
        p = TcpProxy(self.port)
        self.proxies.append(p)
        return p

    def upload(
        self,
        bucket: str,
        prefix: str,
        folder: Path,
        *,
        names: list[str] | None = None,
        part_size: int | None = None,
        acl: str = "public-read",
    ) -> str:
        """Upload the files of ``folder`` under ``s3://bucket/prefix``; its URL.

        ``part_size`` uploads files larger than it in several parts (multipart ETag).
        """
        existing = {b["Name"] for b in self.client.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            self.client.create_bucket(Bucket=bucket, ACL="public-read")
        for path in sorted(Path(folder).iterdir()):
            if not path.is_file() or (names is not None and path.name not in names):
                continue
            key = f"{prefix}/{path.name}"
            data = path.read_bytes()
            if part_size and len(data) > part_size:
                upload = self.client.create_multipart_upload(Bucket=bucket, Key=key, ACL=acl)
                parts = []
                for number, start in enumerate(range(0, len(data), part_size), 1):
                    r = self.client.upload_part(
                        Bucket=bucket,
                        Key=key,
                        UploadId=upload["UploadId"],
                        PartNumber=number,
                        Body=data[start : start + part_size],
                    )
                    parts.append({"PartNumber": number, "ETag": r["ETag"]})
                self.client.complete_multipart_upload(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload["UploadId"],
                    MultipartUpload={"Parts": parts},
                )
            else:
                self.client.put_object(Bucket=bucket, Key=key, Body=data, ACL=acl)
        return f"s3://{bucket}/{prefix}"

    def put(self, url: str, data: bytes) -> None:
        """Write one object (public-read) at an ``s3://`` URL."""
        bucket, key = url[len("s3://") :].split("/", 1)
        self.client.put_object(Bucket=bucket, Key=key, Body=data, ACL="public-read")

    def delete_prefix(self, bucket: str, prefix: str) -> None:
        """Remove every object under ``prefix``."""
        existing = {b["Name"] for b in self.client.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            return
        listing = self.client.list_objects_v2(Bucket=bucket, Prefix=prefix + "/")
        for obj in listing.get("Contents", []):
            self.client.delete_object(Bucket=bucket, Key=obj["Key"])


@pytest.fixture(scope="session")
def s3_server():
    """moto's ThreadedMotoServer on 127.0.0.1, a free port, for the whole session."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **DUMMY)
    state = S3Server(endpoint=endpoint, port=port, client=client)
    yield state
    for p in state.proxies:
        p.stop()
    client.close()
    server.stop()


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Dummy credentials in the environment; no real AWS profile or config is read."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)


@dataclass
class Release:
    """A release on the server: its URL, the options that reach it, the local original."""

    url: str
    storage_options: dict[str, Any]
    folder: Path


@pytest.fixture(scope="session")
def remote_release(s3_server, synthetic_dir) -> Release:
    """The 12-experiment synthetic dataset at ``s3://agea-test/agea`` (public-read)."""
    url = s3_server.upload("agea-test", "agea", synthetic_dir)
    return Release(url, {"anon": True, "endpoint_url": s3_server.endpoint}, synthetic_dir)
