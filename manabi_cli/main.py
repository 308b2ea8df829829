"""``manabi``: use Manabi Plus from a terminal — the local stack by default, or a deployed stage.

Every command prints one clear line on failure (exit status 1) and, with ``--json`` (before or
after the command), exactly one JSON document on stdout. ``upload --wait`` and ``status --wait``
exit with the verdict's own status: 0 CLEAN, 3 INFECTED, 4 UNSCANNABLE, 5 ERROR.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from manabi_cli.api import ApiClient, CliError, Target, resolve_target
from manabi_cli.session import Session

TERMINAL = {"CLEAN", "INFECTED", "UNSCANNABLE", "ERROR"}
# The exit status of `upload --wait` and `status --wait` for each verdict (1 is a failure, 2 a usage error).
VERDICT_EXIT = {"CLEAN": 0, "INFECTED": 3, "UNSCANNABLE": 4, "ERROR": 5}
# The user pool's password policy (infra/main/identity.yaml; tests/unit/test_cli.py keeps them equal).
PASSWORD_POLICY = {
    "MinimumLength": 8,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
}
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def password_rules() -> str:
    kinds = [
        ("RequireUppercase", "an upper-case letter"),
        ("RequireLowercase", "a lower-case letter"),
        ("RequireNumbers", "a digit"),
        ("RequireSymbols", "a symbol"),
    ]
    needed = [words for name, words in kinds if PASSWORD_POLICY[name]]
    listed = ", ".join(needed[:-1]) + f" and {needed[-1]}" if len(needed) > 1 else "".join(needed)
    return f"at least {PASSWORD_POLICY['MinimumLength']} characters, with {listed}"


def format_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


def format_time(stamp: str) -> str:
    """An API time (UTC) in this machine's time zone, to the minute."""
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return stamp


def progress(label: str, total: int) -> Callable[[int], None]:
    """A progress bar on stderr when it is a terminal; silent otherwise."""
    if not sys.stderr.isatty() or total <= 0:
        return lambda done: None
    started = time.monotonic()

    def update(done: int) -> None:
        width = 30
        filled = int(width * done / total)
        rate = done / max(time.monotonic() - started, 1e-6) / 1024 / 1024
        sys.stderr.write(
            f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done * 100 // total:3d}% {rate:6.1f} MiB/s"
        )
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return update


def wait_for_verdict(api: ApiClient, file_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        details = api.get(f"/files/{file_id}")
        if details["scanStatus"] in TERMINAL:
            return details
        if time.monotonic() > deadline:
            raise CliError(f"file {file_id} is still {details['scanStatus']} after {timeout:.0f}s")
        time.sleep(0.5)


def _password(args: argparse.Namespace) -> str:
    password = args.password or os.environ.get("MANABI_PASSWORD")
    if password:
        return str(password)
    if not sys.stdin.isatty():
        raise CliError("no password: pass --password or set MANABI_PASSWORD")
    return getpass.getpass("password: ")


def cmd_signup(args: argparse.Namespace, target: Target, session: Session) -> dict[str, Any]:
    if not _EMAIL.fullmatch(args.email):
        raise CliError(f"{args.email!r} is not an e-mail address (the confirmation code is sent there)")
    auth = target.cognito()
    auth.sign_up(args.username, args.email, _password(args), password_rules())
    if target.local:
        auth.confirm_locally(args.username)
        return {"username": args.username, "confirmed": True, "next": f"manabi login {args.username}"}
    return {
        "username": args.username,
        "confirmed": False,
        "next": f"enter the code e-mailed to {args.email}: manabi confirm {args.username} CODE",
    }


def cmd_confirm(args: argparse.Namespace, target: Target, session: Session) -> dict[str, Any]:
    target.cognito().confirm(args.username, args.code)
    return {"username": args.username, "confirmed": True}


def cmd_login(args: argparse.Namespace, target: Target, session: Session) -> dict[str, Any]:
    tokens = target.cognito().login(args.username, _password(args))
    session.save(target.api_url, {"username": args.username, **tokens, **target.session_fields()})
    return {"username": args.username, "signedIn": True, "api": target.api_url}


def cmd_upload(args: argparse.Namespace, target: Target, session: Session) -> dict[str, Any]:
    path = Path(args.file)
    if path.is_dir():
        raise CliError(f"{path} is a directory: upload one file at a time (zip a folder to send it whole)")
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    api = target.api(session)
    size = path.stat().st_size
    created = api.post(
        "/files",
        {"name": args.name or path.name, "size": size, "contentType": args.content_type or "application/octet-stream"},
    )
    file_id = created["file"]["id"]
    api.upload(created["upload"], path, progress(f"uploading {path.name}", size))
    if not args.wait:
        return {"id": file_id, "scanStatus": "PENDING_UPLOAD", "name": created["file"]["name"], "size": size}
    return wait_for_verdict(api, file_id, args.timeout)


def cmd_files(args: argparse.Namespace, target: Target, session: Session) -> dict[str, Any]:
    """The newest ``--limit`` files, in as many pages (of at most 100) as that takes."""
    if args.limit < 1:
        raise CliError("--limit must be at least 1")
    api = target.api(session)
    files: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = api.get(f"/files?limit={min(args.limit - len(files), 100)}" + (f"&cursor={cursor}" if cursor else ""))
        files += page["files"]
        cursor = page.get("cursor")
        if not cursor or len(files) >= args.limit:
            return {"files": files, "cursor": cursor}


def cmd_status(args: argparse.Namespace, target: Target, session: Session) -> dict[str, Any]:
    api = target.api(session)
    if args.wait:
        return wait_for_verdict(api, args.id, args.timeout)
    return api.get(f"/files/{args.id}")  # type: ignore[no-any-return]


def download_path(requested: str | None, name: str, force: bool) -> Path:
    """Where a download goes: ``-o FILE``, into ``-o DIR/``, or its own name here. An existing
    file is replaced only when named with ``-o`` or with ``--force``."""
    if requested is not None and not requested.endswith(("/", os.sep)) and not Path(requested).is_dir():
        output, named = Path(requested), True
    else:
        output, named = Path(requested or ".") / name, False
    if not output.parent.is_dir():
        raise CliError(f"cannot write {output}: the directory {output.parent} does not exist")
    if output.is_dir():
        raise CliError(f"cannot write {output}: it is a directory")
    if output.exists() and not (named or force):
        raise CliError(f"{output} already exists: pass -o PATH, or --force to replace it")
    return output


def cmd_download(args: argparse.Namespace, target: Target, session: Session) -> dict[str, Any]:
    api = target.api(session)
    link = api.get(f"/files/{args.id}/download")
    output = download_path(args.output, link["file"]["name"], args.force)
    written = api.download(link["url"], output, progress(f"downloading {output.name}", link["file"]["size"]))
    return {"id": args.id, "scanStatus": link["file"]["scanStatus"], "path": str(output), "bytes": written}


def cmd_delete(args: argparse.Namespace, target: Target, session: Session) -> dict[str, Any]:
    target.api(session).delete(f"/files/{args.id}")
    return {"id": args.id, "deleted": True}


def cmd_trace(args: argparse.Namespace, target: Target, session: Session) -> dict[str, Any]:
    details = target.api(session).get(f"/files/{args.id}")
    return {"id": args.id, "scanStatus": details["scanStatus"], **target.workflow().trace(args.id)}


def cmd_rescan(args: argparse.Namespace, target: Target, session: Session) -> dict[str, Any]:
    """Admins only: one file (``ID --owner SUB``) or every file not scanned with ``--not-scanned-with``."""
    api = target.api(session)
    if args.not_scanned_with:
        return api.post("/admin/rescans", {"notScannedWith": args.not_scanned_with})  # type: ignore[no-any-return]
    if not (args.id and args.owner):
        raise CliError("give a file id and --owner SUB, or --not-scanned-with VERSION")
    started = api.post(f"/admin/users/{args.owner}/files/{args.id}/rescan", {})
    return {"id": args.id, **started}


def cmd_canary(args: argparse.Namespace, target: Target, session: Session) -> dict[str, Any]:
    """The scan canary now: in this process against the local stack, or the deployed function."""
    if target.local:
        from manabi_cli.canary import run_local_canary

        return run_local_canary(target)
    if not args.function_name:
        raise CliError("against a deployed stage, give --function-name (e.g. manabiplus-stag-scan_canary)")
    return target.invoke(args.function_name, {})


COMMANDS: dict[str, Callable[[argparse.Namespace, Target, Session], dict[str, Any]]] = {
    "signup": cmd_signup,
    "confirm": cmd_confirm,
    "login": cmd_login,
    "upload": cmd_upload,
    "files": cmd_files,
    "status": cmd_status,
    "download": cmd_download,
    "delete": cmd_delete,
    "trace": cmd_trace,
    "rescan": cmd_rescan,
    "canary": cmd_canary,
}


def render(command: str, result: dict[str, Any]) -> Iterator[str]:
    """Human-readable output."""
    if command == "files":
        if not result["files"]:
            yield "no files"
        else:
            yield f"{'ID':<26}  {'STATUS':<14} {'SIZE':>10}  {'UPLOADED':<16}  NAME"
        for item in result["files"]:
            size, uploaded = format_size(int(item["size"])), format_time(item["createdAt"])
            yield f"{item['id']:<26}  {item['scanStatus']:<14} {size:>10}  {uploaded:<16}  {item['name']}"
        if result.get("cursor"):
            yield "(more: a larger --limit shows them)"
    elif command == "trace":
        yield f"{result['execution']}  {result['status']}  verdict {result['scanStatus']}"
        for step in result["steps"]:
            duration = "" if step["seconds"] is None else f"{step['seconds']:8.3f}s"
            yield f"  {step['state']:<16} {step['started']}  {duration:>9}  {step.get('detail', '')}".rstrip()
    elif command == "canary":
        marks = {True: "ok  ", False: "FAIL", None: "skip"}
        outcome = "PASSED" if result["passed"] else "FAILED"
        yield f"scan canary {result['run']} ({result['stage']}): {outcome} in {result['seconds']:.1f}s"
        for number, step in enumerate(result["steps"], 1):
            yield f"  {number}. [{marks[step['ok']]}] {step['name']} ({step['seconds']:.2f}s): {step['detail']}"
    else:
        for key, value in result.items():
            yield f"{key}: {value}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="manabi", description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", help="API URL (default: the running local stack)")
    parser.add_argument("--region", help="AWS region of the user pool (deployed stages)")
    parser.add_argument("--client-id", help="Cognito app client id of the CLI (deployed stages)")
    parser.add_argument("--state-machine-arn", help="scan state machine, for trace (deployed stages)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    # Every command takes --json after it too (SUPPRESS: absent there, the value above stands).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON document")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, **options: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **options)

    signup = command("signup", help="create an account")
    signup.add_argument("username")
    signup.add_argument("--email", required=True, help="where the confirmation code is sent")
    signup.add_argument("--password", help=f"{password_rules()} (default: $MANABI_PASSWORD, else asked for)")
    confirm = command("confirm", help="confirm an account with the e-mailed code")
    confirm.add_argument("username")
    confirm.add_argument("code")
    login = command("login", help="sign in and remember the session")
    login.add_argument("username")
    login.add_argument("--password")
    upload = command("upload", help="upload a file; it is scanned before anyone can read it")
    upload.add_argument("file")
    upload.add_argument("--name", help="name to store (default: the file's name)")
    upload.add_argument("--content-type")
    upload.add_argument(
        "--wait", action="store_true", help="wait for the verdict; exit 0 CLEAN, 3 INFECTED, 4 UNSCANNABLE, 5 ERROR"
    )
    upload.add_argument("--timeout", type=float, default=300)
    files = command("files", help="list your files, newest first")
    files.add_argument("--limit", type=int, default=50, help="how many files (default 50)")
    status = command("status", help="a file's scan status")
    status.add_argument("id")
    status.add_argument(
        "--wait", action="store_true", help="wait for the verdict; exit 0 CLEAN, 3 INFECTED, 4 UNSCANNABLE, 5 ERROR"
    )
    status.add_argument("--timeout", type=float, default=300)
    download = command("download", help="download a CLEAN file")
    download.add_argument("id")
    download.add_argument("-o", "--output", help="a file, or a directory to write it into (default: its name, here)")
    download.add_argument("--force", action="store_true", help="replace an existing file of that name")
    delete = command("delete", help="delete a file and every version of it")
    delete.add_argument("id")
    trace = command("trace", help="the file's scan, step by step (like the Step Functions console)")
    trace.add_argument("id")
    rescan = command("rescan", help="admins: rescan a file, or every file scanned with other definitions")
    rescan.add_argument("id", nargs="?")
    rescan.add_argument("--owner", help="the file owner's user sub (see GET /admin/files)")
    rescan.add_argument("--not-scanned-with", metavar="VERSION", help="e.g. the current definitions version")
    canary = command("canary", help="run the scan canary now (EICAR + a clean file) and report each step")
    canary.add_argument("--function-name", help="the deployed canary function (manabiplus-STAGE-scan_canary)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        target = resolve_target(args.api, args.region, args.client_id, args.state_machine_arn)
        result = COMMANDS[args.command](args, target, Session.default())
    except CliError as error:
        print(f"manabi: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("manabi: interrupted", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for line in render(args.command, result):
            print(line)
    if args.command == "canary" and not result.get("passed"):
        return 1
    if getattr(args, "wait", False):
        return VERDICT_EXIT.get(str(result.get("scanStatus")), 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
