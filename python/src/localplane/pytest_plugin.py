"""The pytest plugin of localplane (entry point ``pytest11``): the session fixture ``localplane``, a
server started from the installed binary, and the function fixture ``localplane_account``, a fresh
account id per test so that tests are isolated without resets.

The timing profile is ``instant`` unless ``--localplane-timing`` or ``LOCALPLANE_TIMING`` says
otherwise."""

from __future__ import annotations

import os

import pytest

from . import Server, random_account


def pytest_addoption(parser):
    group = parser.getgroup("localplane")
    group.addoption(
        "--localplane-timing",
        default=None,
        choices=["instant", "fast", "realistic", "manual"],
        help="timing profile of the localplane server (default: $LOCALPLANE_TIMING, else instant)",
    )


@pytest.fixture(scope="session")
def localplane(request):
    """A localplane server for the session: ``endpoint_url``, ``client(service_name, account=None,
    region="us-east-1", **kwargs)``, ``reset()``, ``seed(text)``, ``admin(method, path)``."""
    timing = request.config.getoption("--localplane-timing") or os.environ.get("LOCALPLANE_TIMING") or "instant"
    server = Server(timing=timing).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def localplane_account() -> str:
    """A fresh 12-digit account id for this test: pass it as ``account=`` to ``localplane.client``."""
    return random_account()
