"""--scheduler at something that is not a Dask scheduler: one line, exit 2, quickly (tiny local servers)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from riemdln.app.cli import main


class Server:
    """A local TCP server on a free port that greets with ``banner`` (or stays silent) and holds the connection."""

    def __init__(self, banner: bytes = b""):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.banner, self.conns = banner, []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.banner:
                conn.sendall(self.banner)

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


def _reproduce(tmp_path, address):
    return main(
        [
            "reproduce",
            "--quick",
            "--studies",
            "razin_cohen",
            "--out",
            str(tmp_path / "o"),
            "--no-pdf",
            "--scheduler",
            address,
        ]
    )


@pytest.mark.parametrize(
    "banner,expect",
    [
        (b"", "sent nothing"),  # an HTTP server waits for a request: it never speaks first
        (b"SSH-2.0-OpenSSH_9.6\r\n", "not a Dask scheduler"),  # a greeting read as a frame length: 2.82 EiB
        (b"\x10\x00\x00\x00\x00\x00\x00\x00" + b"x" * 16, "not a Dask scheduler"),  # framed, but not Dask
    ],
)
def test_non_dask_service_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, banner, expect):
    import riemdln.studies.sweep

    monkeypatch.setattr(riemdln.studies.sweep, "HANDSHAKE_SECONDS", 2.0)
    monkeypatch.setattr(riemdln.studies.sweep.probe_dask, "__defaults__", (2.0,))
    server = Server(banner)
    try:
        start = time.monotonic()
        code = _reproduce(tmp_path, f"tcp://127.0.0.1:{server.port}")
        assert time.monotonic() - start < 30
    finally:
        server.close()
    err = capsys.readouterr().err.strip()
    assert code == 2 and expect in err and "Traceback" not in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("address,expect", [("tcp://127.0.0.1:99999", "65535"), ("tcp://127.0.0.1:1", "unreachable")])
def test_bad_port_and_unreachable(tmp_path, capsys, address, expect):
    start = time.monotonic()
    code = _reproduce(tmp_path, address)
    err = capsys.readouterr().err.strip()
    assert code == 2 and expect in err and len(err.splitlines()) == 1
    assert time.monotonic() - start < 30
