"""The learners' web app on the local stack: build ``web/`` when its sources changed, then serve
``web/dist`` on 127.0.0.1 with a ``config.json`` made from the running stack.

Nothing here is deployed: ``infra/publish_web.py`` uploads the same build to the web bucket with
the stage's configuration. Two local-only additions, both on this server:

- ``GET /config.json``: the emulator's pool, web client and endpoint, and the local API URL,
  built in memory per stack (two stacks can serve one build, each with its own config);
- ``POST /local/confirm-sign-up``: confirms a new account at once, as the e-mailed code does on
  AWS (the emulator sends no e-mail; the CLI does the same with ``admin_confirm_sign_up``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import mimetypes
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from devstack.templates import ROOT

logger = logging.getLogger("devstack.web")

WEB = ROOT / "web"
DIST = WEB / "dist"
SOURCE_STAMP = ".source.sha256"
CONFIRM_PATH = "/local/confirm-sign-up"
# What the build reads; a change to any of them means a new build.
BUILD_INPUTS = ("index.html", "package.json", "package-lock.json", "tsconfig.json", "vite.config.ts", "src", "public")


class WebBuildError(RuntimeError):
    """The site could not be built; the message says what to do."""


def _input_files(web: Path) -> Iterator[Path]:
    for name in BUILD_INPUTS:
        path = web / name
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            yield path


def source_digest(web: Path = WEB) -> str:
    """sha256 over the build inputs' paths and contents (mtimes change with every checkout)."""
    digest = hashlib.sha256()
    for path in _input_files(web):
        digest.update(path.relative_to(web).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def is_fresh(web: Path = WEB, dist: Path | None = None) -> bool:
    dist = dist or web / "dist"
    stamp = dist / SOURCE_STAMP
    return (dist / "index.html").is_file() and stamp.is_file() and stamp.read_text().strip() == source_digest(web)


def ensure_built(web: Path = WEB, force: bool = False) -> Path:
    """Build ``web/dist`` unless it was built from the current sources; returns the dist folder.

    A lock file serialises builds: two stacks starting at once build once.
    """
    dist = web / "dist"
    if not force and is_fresh(web, dist):
        return dist
    npm = shutil.which("npm")
    if npm is None:
        raise WebBuildError("npm is not installed: the web app needs Node.js 20.19+ (run `make setup`)")
    if not (web / "node_modules").is_dir():
        raise WebBuildError(f"{web / 'node_modules'} is missing: run `make setup` (npm ci)")
    with (web / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and is_fresh(web, dist):
            return dist
        digest = source_digest(web)
        logger.info("building the web app (npm run build)")
        result = subprocess.run(
            [npm, "run", "build", "--silent"],
            cwd=web,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            raise WebBuildError(f"`npm run build` failed in {web}:\n{(result.stdout + result.stderr)[-4000:]}")
        (dist / SOURCE_STAMP).write_text(digest + "\n")
    return dist


def local_config(info: dict[str, Any], web_url: str) -> dict[str, Any]:
    """The site's config.json for a running local stack (``stack.json`` outputs)."""
    return {
        "stage": "local",
        "apiUrl": info["api"],
        "region": info["region"],
        "userPoolId": info["userPoolId"],
        "userPoolClientId": info["webClientId"],
        "cognitoEndpoint": info["emulator"].rstrip("/") + "/",
        "localSignUpConfirmUrl": web_url.rstrip("/") + CONFIRM_PATH,
        # moto's SRP answers with the user's sub as USER_ID_FOR_SRP, then cannot find a user by it,
        # and it never checks the password; its USER_PASSWORD_AUTH does both properly. (AWS's
        # web client allows SRP only: infra/publish_web.py leaves this out.)
        "authFlow": "USER_PASSWORD_AUTH",
    }


def allow_site_origin(s3: Any, bucket: str, origin: str) -> None:
    """The data bucket's CORS rule for the site: browsers POST uploads straight to it (with a
    preflight, because the page listens to upload progress). The same rule as on AWS."""
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [origin],
                    "AllowedMethods": ["POST"],
                    "AllowedHeaders": ["*"],
                    "MaxAgeSeconds": 3000,
                }
            ]
        },
    )


# Security headers the web distribution should send too (web/NEEDS.md).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class _Handler(BaseHTTPRequestHandler):
    server: WebServer

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str, cache: str = "no-cache") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/config.json":
            self._send(HTTPStatus.OK, json.dumps(self.server.site_config).encode(), "application/json")
            return
        target = self._static(path)
        if target is None:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")
            return
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type in {"application/javascript", "image/svg+xml"}:
            content_type += "; charset=utf-8"
        hashed = target.parent.name == "assets"
        self._send(
            HTTPStatus.OK,
            target.read_bytes(),
            content_type,
            "public, max-age=31536000, immutable" if hashed else "no-cache",
        )

    def _static(self, path: str) -> Path | None:
        root = self.server.dist.resolve()
        relative = path.lstrip("/") or "index.html"
        target = (root / relative).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            return None
        return target

    def do_POST(self) -> None:
        if urlsplit(self.path).path != CONFIRM_PATH:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            username = json.loads(self.rfile.read(length) or b"{}").get("username")
        except (ValueError, AttributeError):
            username = None
        if not isinstance(username, str) or not username:
            self._send(HTTPStatus.BAD_REQUEST, b'{"code": "missing_field", "fields": ["username"]}', "application/json")
            return
        try:
            self.server.confirm_sign_up(username)
        except Exception as error:  # noqa: BLE001 - reported to the page, which shows a message
            logger.warning("local sign-up confirmation of %r failed: %s", username, error)
            self._send(HTTPStatus.NOT_FOUND, b'{"code": "not_found"}', "application/json")
            return
        self._send(HTTPStatus.NO_CONTENT, b"", "application/json")


class WebServer(ThreadingHTTPServer):
    """``web/dist`` plus config.json and the local confirmation, on 127.0.0.1 in a thread."""

    daemon_threads = True

    def __init__(
        self,
        port: int,
        dist: Path,
        site_config: dict[str, Any],
        confirm_sign_up: Callable[[str], None],
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.dist = dist
        self.site_config = site_config
        self.confirm_sign_up = confirm_sign_up
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> WebServer:
        self._thread = threading.Thread(target=self.serve_forever, name="web", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def cognito_confirmer(cognito: Any, user_pool_id: str) -> Callable[[str], None]:
    def confirm(username: str) -> None:
        cognito.admin_confirm_sign_up(UserPoolId=user_pool_id, Username=username)

    return confirm


def make_admin(username: str, state_dir: Path) -> None:
    """Put a local account into the Cognito group ``admins`` of the running local stack."""
    import boto3

    info_path = state_dir / "stack.json"
    if not info_path.is_file():
        raise SystemExit(f"no local stack is running ({info_path} is missing): start it with `make run`")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    cognito = boto3.client(
        "cognito-idp",
        region_name=info["region"],
        endpoint_url=info["emulator"],
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - the emulator accepts any key
    )
    cognito.admin_add_user_to_group(UserPoolId=info["userPoolId"], Username=username, GroupName="admins")
    print(f"{username} is in the group admins now: sign out and in again to see the admin page")


def main(argv: list[str] | None = None) -> int:
    """``python -m devstack.web [build]``: build the site if its sources changed;
    ``python -m devstack.web make-admin USERNAME``: make a local account an admin."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m devstack.web", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command")
    build = commands.add_parser("build", help="build web/dist if its sources changed (the default)")
    build.add_argument("--force", action="store_true")
    admin = commands.add_parser("make-admin", help="add a local account to the Cognito group admins")
    admin.add_argument("username")
    admin.add_argument("--state-dir", type=Path, default=ROOT / ".local")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "make-admin":
        make_admin(args.username, args.state_dir)
        return 0
    try:
        dist = ensure_built(force=getattr(args, "force", False))
    except WebBuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"web app built in {dist}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
