"""Shared fixtures for the boto3 / AWS CLI conformance suites.

One localplane server runs for the whole pytest session:

    <bin> serve --listen 127.0.0.1:0 --ephemeral --timing fast

and the endpoint is the one it prints (``LOCALPLANE_ENDPOINT=http://127.0.0.1:PORT``) once listening.

The binary is ``$LOCALPLANE_BIN`` or ``<repo>/target/debug/localplane``.
Set ``LOCALPLANE_ENDPOINT=http://127.0.0.1:4566`` instead to run the suites
against a server that is already running (nothing is started or stopped then).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / "target" / "debug" / "localplane"

REGION = "us-east-1"
# A 12-digit access key id is used by localplane as the caller's account id.
ACCOUNT_ID = "123456789012"
SECRET_KEY = "localplane-test-secret"

STARTUP_TIMEOUT_S = 30.0


@dataclass
class Localplane:
    """A running localplane server."""

    endpoint_url: str
    process: subprocess.Popen | None
    log_path: Path | None

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no server log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def _announced_endpoint(log_path: Path) -> str | None:
    """The ``LOCALPLANE_ENDPOINT=`` line `serve` prints once its listener is bound, if it has yet."""
    if not log_path.exists():
        return None
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("LOCALPLANE_ENDPOINT="):
            return line.removeprefix("LOCALPLANE_ENDPOINT=").strip()
    return None


def _health(endpoint_url: str) -> dict | None:
    """The health document, or None while the server is not answering yet."""
    try:
        with urllib.request.urlopen(f"{endpoint_url}/_localplane/health", timeout=2) as resp:
            if resp.status != 200:
                return None
            return json.loads(resp.read() or b"{}")
    except (urllib.error.URLError, ConnectionError, OSError, ValueError):
        return None


@pytest.fixture(scope="session")
def localplane(tmp_path_factory) -> Localplane:
    """Starts the server on a free loopback port and stops it after the session."""
    external = os.environ.get("LOCALPLANE_ENDPOINT")
    if external:
        external = external.rstrip("/")
        if _health(external) is None:
            pytest.fail(f"LOCALPLANE_ENDPOINT={external} does not answer /_localplane/health")
        yield Localplane(endpoint_url=external, process=None, log_path=None)
        return

    binary = Path(os.environ.get("LOCALPLANE_BIN", DEFAULT_BIN))
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(
            f"localplane binary not found at {binary}: build it with "
            "`cargo build --bin localplane` or set LOCALPLANE_BIN"
        )

    workdir = tmp_path_factory.mktemp("localplane")
    log_path = workdir / "server.log"
    cmd = [str(binary), "serve", "--listen", "127.0.0.1:0", "--ephemeral", "--timing", "fast"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            cmd, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = Localplane(endpoint_url="", process=process, log_path=log_path)

    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    health = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"localplane exited with code {process.returncode} during startup "
                f"({' '.join(cmd)}):\n{server.log_tail()}"
            )
        server.endpoint_url = server.endpoint_url or _announced_endpoint(log_path) or ""
        health = _health(server.endpoint_url) if server.endpoint_url else None
        if health is not None:
            break
        time.sleep(0.1)
    if health is None:
        process.kill()
        process.wait()
        pytest.fail(f"localplane did not become healthy within {STARTUP_TIMEOUT_S}s:\n{server.log_tail()}")
    assert health.get("status") == "ok", health
    assert "version" in health, health

    try:
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def endpoint_url(localplane) -> str:
    return localplane.endpoint_url


@pytest.fixture(scope="session")
def account_id() -> str:
    return ACCOUNT_ID


def make_client(service: str, endpoint_url: str, access_key: str = ACCOUNT_ID):
    """A boto3 client the way a user would point one at localplane."""
    return boto3.session.Session().client(
        service,
        region_name=REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=SECRET_KEY,
        config=Config(
            # DiscoverInstances carries hostPrefix "data-": without this the SDK
            # would connect to data-127.0.0.1, which does not resolve.
            inject_host_prefix=False,
            # Surface server errors as they are instead of retrying them.
            retries={"total_max_attempts": 1},
            connect_timeout=5,
            read_timeout=15,
        ),
    )


@pytest.fixture(scope="session")
def servicediscovery(endpoint_url):
    """A boto3 ``servicediscovery`` client bound to localplane."""
    return make_client("servicediscovery", endpoint_url)


@pytest.fixture(scope="session")
def servicediscovery_as(endpoint_url):
    """``servicediscovery_as("210987654321")``: a client acting as another account."""
    return lambda account: make_client("servicediscovery", endpoint_url, access_key=account)


@pytest.fixture(scope="session")
def kafkaconnect(endpoint_url):
    """A boto3 ``kafkaconnect`` (MSK Connect, restJson1) client bound to localplane."""
    return make_client("kafkaconnect", endpoint_url)


class Admin:
    """The localplane admin API (``/_localplane/...``), which no AWS client knows about.

    ``admin.add_fault({...})`` installs a fault rule (``POST /_localplane/faults``) and returns the
    answer (``{"id": ...}``). Rules added through the fixture that are still unused when the test
    ends are deleted then, so a failed test leaves none behind.
    """

    def __init__(self, endpoint_url: str):
        self.endpoint_url = endpoint_url
        self.fault_ids: list[str] = []

    def request(self, method: str, path: str, doc=None) -> tuple[int, object]:
        data = None if doc is None else json.dumps(doc).encode()
        req = urllib.request.Request(f"{self.endpoint_url}{path}", data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def add_fault(self, rule: dict) -> dict:
        status, body = self.request("POST", "/_localplane/faults", rule)
        assert 200 <= status < 300, f"POST /_localplane/faults {rule} -> {status} {body}"
        self.fault_ids.append(body["id"])
        return body

    def remove_unused_faults(self) -> None:
        for fault_id in self.fault_ids:
            self.request("DELETE", f"/_localplane/faults/{urllib.parse.quote(fault_id, safe='')}")  # 404 once used up
        self.fault_ids.clear()


@pytest.fixture
def admin(endpoint_url):
    """The localplane admin API for one test (see :class:`Admin`)."""
    client = Admin(endpoint_url)
    yield client
    client.remove_unused_faults()


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self):
        return json.loads(self.stdout) if self.stdout.strip() else None


class AwsCli:
    """Runs the AWS CLI (``python -m awscli``) against localplane.

    ``aws_cli("servicediscovery", "get-operation", "--operation-id", op)`` (or
    ``aws_cli("kafkaconnect", "describe-connector", "--connector-arn", arn)``) returns the
    parsed JSON output (None for commands that print nothing) and fails the test
    when the command fails; ``aws_cli.run(...)`` returns the raw :class:`CliResult`.
    Relative ``file://`` arguments (``--cli-input-json file://connector.json``) are
    read from ``aws_cli.workdir``, a directory of its own: ``aws_cli.write(name, doc)``
    puts a JSON document there and returns the ``file://`` argument for it.
    """

    def __init__(self, endpoint_url: str, home: Path):
        self.endpoint_url = endpoint_url
        self.workdir = home / "work"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith("AWS_")
        } | {
            "AWS_ACCESS_KEY_ID": ACCOUNT_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_EC2_METADATA_DISABLED": "true",
            # Keep the user's own ~/.aws out of the test.
            "AWS_CONFIG_FILE": str(home / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        }

    def run(self, *args: str, timeout: float = 60) -> CliResult:
        cmd = [sys.executable, "-m", "awscli", "--endpoint-url", self.endpoint_url, "--output", "json", *args]
        proc = subprocess.run(cmd, env=self.env, cwd=self.workdir, capture_output=True, text=True, timeout=timeout)
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    def write(self, name: str, doc) -> str:
        """Writes `doc` as JSON to ``workdir/name``; returns ``file://name`` for a CLI argument."""
        (self.workdir / name).write_text(json.dumps(doc, indent=2))
        return f"file://{name}"

    def __call__(self, *args: str):
        result = self.run(*args)
        assert result.returncode == 0, (
            f"aws {' '.join(args)} exited {result.returncode}\nstderr: {result.stderr}\nstdout: {result.stdout}"
        )
        return result.json

    def error(self, *args: str) -> CliResult:
        """Runs a command that must fail with a service error; returns its result."""
        result = self.run(*args)
        # AWS CLI v1 exits 255 on a service error (v2 would exit 254).
        assert result.returncode != 0, f"aws {' '.join(args)} unexpectedly succeeded: {result.stdout}"
        return result


@pytest.fixture(scope="session")
def aws_cli(endpoint_url, tmp_path_factory) -> AwsCli:
    return AwsCli(endpoint_url, tmp_path_factory.mktemp("awshome"))
