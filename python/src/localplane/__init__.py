"""localplane from Python: the ``localplane`` command this package installs, a server started from
it (:class:`Server`), and boto3 clients aimed at that server. The pytest plugin
(:mod:`localplane.pytest_plugin`) builds its fixtures from these."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import sysconfig
import threading
import urllib.request
from pathlib import Path

__all__ = ["Server", "binary", "random_account"]

DEFAULT_REGION = "us-east-1"
STARTUP_TIMEOUT_S = 30.0


def binary() -> str:
    """The ``localplane`` binary: ``$LOCALPLANE_BIN``, else the one this package installed (the
    environment's scripts directory), else the first on ``PATH``."""
    explicit = os.environ.get("LOCALPLANE_BIN")
    if explicit:
        return explicit
    name = "localplane.exe" if sys.platform == "win32" else "localplane"
    for scripts in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(scripts) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("localplane")
    if found:
        return found
    raise FileNotFoundError("the localplane binary is not installed in this environment (pip install ./python from a localplane checkout) and LOCALPLANE_BIN is not set")


def random_account() -> str:
    """A fresh 12-digit account id (never the default account ``000000000000``)."""
    return str(secrets.randbelow(9 * 10**11) + 10**11)


class Server:
    """A ``localplane serve`` on ``127.0.0.1`` and a free port, in memory (``--ephemeral``).

    ``Server(timing="instant").start()`` waits until the server prints its
    ``LOCALPLANE_ENDPOINT=`` line; ``stop()`` ends it. ``extra_args`` go to ``serve`` as they are
    (``["--seed", "seed.yaml"]``, say).
    """

    def __init__(self, timing: str = "instant", extra_args: list[str] | None = None, binary_path: str | None = None):
        self.timing = timing
        self.extra_args = list(extra_args or [])
        self.binary_path = binary_path or binary()
        self.endpoint_url = ""
        self.process: subprocess.Popen | None = None
        self._log: list[str] = []

    def start(self) -> "Server":
        cmd = [self.binary_path, "serve", "--listen", "127.0.0.1:0", "--ephemeral", "--timing", self.timing,
               "--dns-listen", "off", *self.extra_args]
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                        text=True)
        threading.Thread(target=self._keep_log, daemon=True).start()
        found: list[str] = []
        announced = threading.Event()
        threading.Thread(target=self._read_endpoint, args=(found, announced), daemon=True).start()
        announced.wait(STARTUP_TIMEOUT_S)
        if not found:
            self.stop()
            log = "\n".join(self._log[-40:])
            raise RuntimeError(f"localplane did not announce its endpoint within {STARTUP_TIMEOUT_S:.0f} s "
                               f"({' '.join(cmd)}):\n{log}")
        self.endpoint_url = found[0]
        return self

    def _read_endpoint(self, found: list[str], announced: threading.Event) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("LOCALPLANE_ENDPOINT="):
                found.append(line.removeprefix("LOCALPLANE_ENDPOINT=").strip())
                break
        # Found, or the server exited before announcing one.
        announced.set()
        # Keep reading so that the server never blocks on a full pipe.
        for _ in self.process.stdout:
            pass

    def _keep_log(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            self._log.append(line.rstrip("\n"))
            del self._log[:-200]

    def log_tail(self, lines: int = 40) -> str:
        """The last lines the server logged."""
        return "\n".join(self._log[-lines:])

    def stop(self) -> None:
        """Stops the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def client(self, service_name: str, account: str | None = None, region: str = DEFAULT_REGION, **kwargs):
        """A boto3 client of ``service_name`` aimed at this server, signing as ``account`` (the access
        key is the account id; None: ``000000000000``, the server's default account). ``kwargs`` go
        to ``boto3.client``; a ``config`` given there is merged over ``inject_host_prefix=False``."""
        import boto3
        from botocore.config import Config

        account = account or "000000000000"
        config = Config(inject_host_prefix=False)
        if "config" in kwargs:
            config = config.merge(kwargs.pop("config"))
        return boto3.session.Session().client(
            service_name,
            region_name=region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=account,
            aws_secret_access_key="localplane",
            config=config,
            **kwargs,
        )

    def reset(self, service: str | None = None) -> dict:
        """Deletes all state (or one service's: ``servicediscovery``, ``kafkaconnect``)."""
        path = "/_localplane/reset" + (f"?service={service}" if service else "")
        return self.admin("POST", path)

    def seed(self, text: str | bytes) -> dict:
        """Applies a seed file (YAML or JSON text); see the localplane README."""
        return self.admin("POST", "/_localplane/seed", text.encode() if isinstance(text, str) else text)

    def admin(self, method: str, path: str, body: bytes | None = None) -> dict:
        """Calls the admin API; a non-2xx answer raises ``urllib.error.HTTPError``."""
        req = urllib.request.Request(f"{self.endpoint_url}{path}", data=body, method=method)
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read() or b"null")
