"""The CLI as a process: no traceback ever, quiet Ctrl-C, quiet closed pipes (issue 10, 19)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from agea_xr.cli import main

from .conftest import run_cli


def test_an_error_is_one_clear_line(tmp_path, capsys):
    assert main(["info", "--source", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("agea-xr info: error: AGEA folder")
    assert len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["info", "--source", "{tmp}/damaged"],  # a release folder whose table is garbage
        ["genes", "--source", "{tmp}/not-an-export.nc"],  # a netCDF that is not one
        ["regions", "--source", "{tmp}/not-an-export.nc", "--no-progress"],
    ],
)
def test_no_traceback_from_damaged_files(argv, tmp_path):
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "gene-expression.pqt").write_bytes(b"not parquet")
    (damaged / "gene-expression.bin").write_bytes(b"\0" * 64)
    (tmp_path / "not-an-export.nc").write_bytes(b"plain text, not netCDF\n" * 10)
    done = run_cli(*(a.format(tmp=tmp_path) for a in argv))
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"agea-xr {argv[0]}: error: ")
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) <= 3


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_exits_130_quietly():
    """Interrupted while waiting on a server that never answers: exit 130, nothing printed."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(5)
        server.settimeout(60)
        url = f"http://127.0.0.1:{server.getsockname()[1]}/agea"
        process = subprocess.Popen(
            [sys.executable, "-X", "faulthandler", "-m", "agea_xr.cli", "info", "--source", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # Ctrl-C as in a terminal: a shell starts background jobs (`make test &`) with
            # SIGINT ignored, which the command would inherit, and Python keeps it ignored
            preexec_fn=_sigint_default,
        )
        try:
            connection, _ = server.accept()  # the command is inside main(), reading the URL
            with connection:
                process.send_signal(signal.SIGINT)
                out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)  # faulthandler: where every thread waits
            _, stacks = process.communicate(timeout=30)
            pytest.fail(f"Ctrl-C did not end the command within 60 s; its threads:\n{stacks}")
        finally:
            if process.poll() is None:  # never left running, its pipes open, for later tests
                process.kill()
                process.communicate()
    assert process.returncode == 130
    assert out == "" and err == ""


@pytest.mark.parametrize(
    "argv",
    [["genes", "--sample"], ["regions", "--sample", "--no-progress"], ["info", "--sample"]],
)
def test_a_closed_pipe_is_quiet(argv):
    """``agea-xr ... | head`` where the reader has gone: no "Broken pipe", no traceback."""
    read, write = os.pipe()
    os.close(read)  # the reader closed before the command wrote a byte
    process = subprocess.Popen(
        [sys.executable, "-m", "agea_xr.cli", *argv],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(write)
    _, err = process.communicate(timeout=120)
    assert err == ""
    assert process.returncode == 1  # what Python's documentation recommends for EPIPE


def test_piping_into_head(tmp_path):
    """The same through a shell: ``agea-xr genes --sample | head -1``."""
    done = subprocess.run(
        f"'{sys.executable}' -m agea_xr.cli genes --sample | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.split() == ["gene", "experiments", "ids"]
    assert done.stderr == ""
