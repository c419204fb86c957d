"""A real OpenID Connect provider for the sign-in tests: tests/node/oidc_provider.mjs under node.

`make test` installs it (``npm ci`` in tests/node). :class:`OidcProvider` starts it on a
free port of 127.0.0.1 and always stops it; the tests sign in through its own login form.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from pg_server import free_port

NODE_DIR = Path(__file__).resolve().parent / "node"
START_TIMEOUT_S = 30


class OidcUnavailable(RuntimeError):
    pass


class OidcProvider:
    def __init__(self, workdir: Path, groups: dict[str, list[str]] | None = None):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.metadata_url = f"{self.issuer}/.well-known/openid-configuration"
        self.client_id = "assessment-tests"
        self.client_secret = os.urandom(16).hex()
        self.groups = groups or {}
        self.log_path = workdir / "oidc.log"
        self.process: subprocess.Popen | None = None

    def start(self, redirect_uri: str) -> OidcProvider:
        node = shutil.which("node")
        if node is None or not (NODE_DIR / "node_modules" / "oidc-provider").is_dir():
            raise OidcUnavailable("node or tests/node/node_modules is missing: run `cd tests/node && npm ci` "
                                  "(make test does)")
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [node, "oidc_provider.mjs", str(self.port), self.client_id, self.client_secret, redirect_uri,
                 json.dumps(self.groups)],
                cwd=NODE_DIR, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while "ready " not in self.log_path.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the OpenID provider did not start:\n{self.log_path.read_text(errors='replace')}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def secrets_toml(self) -> str:
        """An [auth] section for this provider. `prompt = "login"`: it has no account chooser."""
        return (f'[auth]\nredirect_uri = "http://127.0.0.1:{{port}}/oauth2callback"\n'
                f'cookie_secret = "{os.urandom(24).hex()}"\nclient_id = "{self.client_id}"\n'
                f'client_secret = "{self.client_secret}"\nserver_metadata_url = "{self.metadata_url}"\n'
                f'client_kwargs = {{ prompt = "login" }}\n')
