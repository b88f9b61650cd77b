"""`graphrag serve` as a real process on a free loopback port, for tests over real HTTP."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]  # the editable install resolves `graphrag` from here


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(env: Mapping[str, str], *, ready_within: float = 60.0) -> Iterator[str]:
    """Starts `graphrag serve` with `env`, waits until /health answers 200, yields its base
    URL, and stops it with SIGINT (then SIGKILL) afterwards."""
    port = free_port()
    cmd = [sys.executable, "-m", "graphrag.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=dict(env), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_within
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"graphrag serve exited: {proc.stdout.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"graphrag serve did not answer /health within {ready_within:g} s")
            time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
