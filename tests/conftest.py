"""Fixtures shared by every test folder: headless Chromium for pytest-playwright, served apps."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest

from app.screenshots import CHROMIUM, CHROMIUM_ARGS, free_port


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's Chromium with offline flags (Playwright's own browsers are never installed)."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def serve_panel() -> Iterator[Callable[[Callable[[], object]], str]]:
    """Serve a Panel app factory on a free port in a thread; returns its URL. Stopped at the end."""
    import panel as pn

    servers = []

    def _serve(factory: Callable[[], object]) -> str:
        port = free_port()
        servers.append(pn.serve(factory, port=port, threaded=True, show=False))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the server binds its port in its own thread
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return f"http://localhost:{port}"
            time.sleep(0.05)
        raise TimeoutError(f"the Panel server on port {port} did not start")

    yield _serve
    for server in servers:
        server.stop()
