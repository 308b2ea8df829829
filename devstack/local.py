"""The embedded local stack: the whole of Manabi Plus on 127.0.0.1, no AWS account needed.

``python -m devstack.local up`` (``make run``) starts, in this process unless noted:
- an AWS emulator (moto server) with the resources of ``infra/main.yaml`` created from the
  template itself: buckets, tables, user pool and clients, alert topic, scan state machine; this
  process's own AWS clients reach it in-process (``devstack.in_process``), everyone else over HTTP;
- clamd (a child process) with the project's offline signature database;
- the event path S3 → EventBridge → SQS (all emulated) → the Chalice upload handler;
- moto's Step Functions executor running ``statemachines/scan-object.asl.json``, whose scanner
  task reaches the in-process scanner through ``devstack.lambda_bridge``;
- ``chalice local --stage local`` (a child process) serving the API;
- the app's scheduled functions (sweeper with its automatic rescans, definitions update, backup)
  on their own schedules (``devstack.schedules``);
- the learners' web app (``devstack.web``): ``web/`` built if its sources changed, served on
  127.0.0.1 with a config.json from this stack; the API's CORS origin and the data bucket's
  CORS rule name it.

Ctrl-C, SIGTERM or ``python -m devstack.local stop`` ends every process it started.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from devstack.state import (
    DEFAULT_STATE_DIR,
    LOCAL_MAX_BYTES,
    STAGE,
    LocalStackError,
    alive,
    claim_state_dir,
    read_info,
    running_pid,
    stage_environment,
)
from devstack.templates import ROOT

logger = logging.getLogger("devstack.local")

REGION = "ap-northeast-1"
UPLOAD_QUEUE = "local-manabiplus-upload-events"


# What each phase of `up` starts, as it says so while starting.
PHASE_NAMES = {
    "emulator": "the AWS emulator (moto)",
    "resources": "the resources of infra/main/ in it",
    "definitions": "the definitions update from the offline mirror",
    "scanner": "clamd and the scanner",
    "eventPath": "the upload event path",
    "api": "chalice local",
    "schedules": "the scheduled functions",
}


def _wait_for_http(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise LocalStackError(f"{process.args!r} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return
        except OSError:
            time.sleep(0.05)
    raise LocalStackError(f"{url} did not answer within {timeout}s")


@dataclass
class LocalStack:
    state_dir: Path = DEFAULT_STATE_DIR
    moto_port: int = 5000
    api_port: int = 8000
    web_port: int = 8080
    started_at: float = field(default_factory=time.monotonic)
    outputs: dict[str, Any] = field(default_factory=dict)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _stopped: bool = False
    _wrote_info: bool = False  # stack.json is this stack's to remove (not a running stack's)
    _owns_state_dir: bool = False
    _run_lock: Any = None  # state_dir/run.lock, held (flock) from the claim until the stack stopped
    _children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _cleanups: list[Any] = field(default_factory=list)

    @property
    def info_path(self) -> Path:
        return self.state_dir / "stack.json"

    def start(self) -> dict[str, Any]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._run_lock = claim_state_dir(self.state_dir)
        self._owns_state_dir = True  # no other stack runs from it: what is left in it is ours
        from devstack.ports import taken

        problems = taken({"emulator": self.moto_port, "API": self.api_port})
        if problems:
            raise LocalStackError("; ".join(problems))
        self.outputs["stackId"] = uuid.uuid4().hex  # a session of another stack's users is not this one's
        phases: dict[str, float] = {}

        def timed(name: str, step: Any, *args: Any) -> Any:
            logger.info("starting %s", PHASE_NAMES.get(name, name))
            began = time.monotonic()
            result = step(*args)
            phases[name] = round(time.monotonic() - began, 3)
            return result

        try:
            timed("emulator", self._start_emulator)
            stack = timed("resources", self._create_resources)
            timed("definitions", self._publish_definitions, stack)
            timed("scanner", self._start_scanner, stack)
            timed("eventPath", self._start_event_path, stack)
            timed("api", self._start_api, stack)
            timed("schedules", self._start_schedules)
            timed("web", self._start_web, stack)
            self.outputs["phaseSeconds"] = phases
        except BaseException:
            self.stop()
            raise
        self.info_path.write_text(json.dumps(self.outputs, indent=2) + "\n", encoding="utf-8")
        self._wrote_info = True
        return self.outputs

    def _start_emulator(self) -> None:
        from moto.server import ThreadedMotoServer

        endpoint = f"http://127.0.0.1:{self.moto_port}"
        # Step Functions' own clients and every boto3 client of this process go to the emulator.
        os.environ.update(
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 - the emulator accepts any key
            AWS_DEFAULT_REGION=REGION,
            MOTO_PORT=str(self.moto_port),
            AWS_ENDPOINT_URL=endpoint,
        )
        os.environ.pop("AWS_PROFILE", None)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        server.start()
        self._cleanups.append(server.stop)
        _wait_for_http(f"{endpoint}/moto-api/", timeout=20)
        from devstack.lambda_bridge import MOTO_CONFIG

        request = urllib.request.Request(  # noqa: S310 - loopback only
            f"{endpoint}/moto-api/config",
            data=json.dumps(MOTO_CONFIG).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=5).close()  # noqa: S310
        from devstack.in_process import InProcessDispatch

        # This process's own clients answered by moto in-process, not over loopback HTTP.
        self._cleanups.append(InProcessDispatch(endpoint).install().uninstall)  # devstack/in_process.py
        from devstack.event_path import EmulatorSpeedups

        self._cleanups.append(EmulatorSpeedups().install().uninstall)  # devstack/event_path.py
        from devstack.dynamodb_speedups import ExpressionCaches

        self._cleanups.append(ExpressionCaches().install().uninstall)  # devstack/dynamodb_speedups.py
        self.outputs.update(emulator=endpoint, region=REGION)

    def _publish_definitions(self, stack: Any) -> None:
        """The offline signatures reach the app bucket through the real updater, from a local mirror."""
        from chalicelib.config import DefinitionsUpdateSettings
        from chalicelib.wiring import build_definitions_updater
        from devstack.definitions_mirror import DefinitionsMirror

        mirror = DefinitionsMirror(self.state_dir / "mirror").start()
        self._cleanups.append(mirror.stop)
        mirror.release()
        settings = DefinitionsUpdateSettings(mirror.url, self.outputs["appBucket"], "clamav/", stack.alert_topic_arn)
        s3, sns = boto3.client("s3", region_name=REGION), boto3.client("sns", region_name=REGION)
        result = build_definitions_updater(settings, s3, sns).run()
        self.outputs.update(definitions=result["version"], definitionsMirror=mirror.url)

    def _create_resources(self) -> Any:
        from devstack.resources import create_bucket, create_main_stack, create_user_pool, create_user_pool_client

        session = boto3.Session(region_name=REGION)
        stack = create_main_stack(session, stage=STAGE, region=REGION)
        context = stack.context
        app_bucket = create_bucket(session.client("s3"), context, "AppBucket")
        backup_bucket = create_bucket(session.client("s3"), context, "BackupBucket")
        cognito = session.client("cognito-idp")
        pool_id = create_user_pool(cognito, context)
        cognito.create_group(GroupName="admins", UserPoolId=pool_id, Description="Manabi Plus operators")
        self.outputs.update(
            dataBucket=stack.data_bucket,
            appBucket=app_bucket,
            backupBucket=backup_bucket,
            filesTable=stack.files_table,
            stateMachineArn=stack.state_machine_arn,
            alertTopicArn=stack.alert_topic_arn,
            userPoolId=pool_id,
            userPoolArn=context.attributes[("UserPool", "Arn")],
            webClientId=create_user_pool_client(cognito, context, "UserPoolClient"),
            cliClientId=create_user_pool_client(cognito, context, "CliUserPoolClient"),
        )
        return stack

    def _start_scanner(self, stack: Any) -> None:
        """The scanner as on Lambda: its runtime fetches the published set and runs clamd."""
        from chalicelib.config import ScannerSettings
        from chalicelib.functions.scanner import handle_scan
        from chalicelib.wiring import build_runtime, build_scanner
        from devstack.lambda_bridge import LambdaBridge

        settings = ScannerSettings(
            clamd_address="",
            clamd_timeout_seconds=600.0,
            max_scan_bytes=LOCAL_MAX_BYTES,
            database_dir="",
            max_definitions_age_hours=48.0,
            definitions_bucket=self.outputs["appBucket"],
            clamd_workdir=str(self.state_dir / "clamd"),
            definitions_check_seconds=60.0,
        )
        s3 = boto3.client("s3", region_name=REGION)
        runtime = build_runtime(settings, s3)
        self._cleanups.append(runtime.stop)
        runtime.client()  # warm: download the set and start clamd now, not on the first upload
        scanner = build_scanner(settings, s3, runtime)
        bridge = LambdaBridge().install()
        bridge.register(stack.scanner_function_arn, lambda event, context: handle_scan(event, scanner))
        self._cleanups.append(bridge.uninstall)
        self.outputs.update(
            clamd=runtime.address,
            clamdLog=str(self.state_dir / "clamd" / "clamd.log"),
            clamdPidFile=str(self.state_dir / "clamd" / "clamd.pid"),
        )

    def _start_event_path(self, stack: Any) -> None:
        sqs = boto3.client("sqs", region_name=REGION)
        events = boto3.client("events", region_name=REGION)
        queue_url = sqs.create_queue(QueueName=UPLOAD_QUEUE)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        pattern = {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [stack.data_bucket]}},
        }
        events.put_rule(Name="local-manabiplus-object-created", EventPattern=json.dumps(pattern))
        events.put_targets(Rule="local-manabiplus-object-created", Targets=[{"Id": "uploads", "Arn": queue_arn}])
        os.environ.update(stage_environment())
        # The resources as created here, and the local mirror as the definitions source.
        os.environ.update(
            DATA_BUCKET=stack.data_bucket,
            FILES_TABLE=stack.files_table,
            APP_BUCKET=self.outputs["appBucket"],
            BACKUP_BUCKET=self.outputs["backupBucket"],
            SCAN_STATE_MACHINE_ARN=stack.state_machine_arn,
            ALERT_TOPIC_ARN=stack.alert_topic_arn,
            DEFINITIONS_SOURCE=self.outputs["definitionsMirror"],
        )
        from chalicelib.functions.upload_events import on_object_created
        from devstack.event_path import EventDelivery

        delivery = EventDelivery(sqs, queue_url, on_object_created, self._stopping).start()
        self._cleanups.append(delivery.stop)
        self.outputs["uploadQueue"] = queue_url

    def _start_api(self, stack: Any) -> None:
        from devstack.auth import auth_environment

        chalice = Path(sys.executable).with_name("chalice")
        env = {
            **os.environ,
            **auth_environment(self.outputs),  # ID tokens are verified as API Gateway does (devstack/auth.py)
            "USER_POOL_ARN": self.outputs["userPoolArn"],
            # The site's origin: the only one browsers may call the API from.
            "WEB_ORIGIN": web_origin(self.web_port),
            "MAX_UPLOAD_BYTES": str(LOCAL_MAX_BYTES),
            "PYTHONUNBUFFERED": "1",
        }
        log = (self.state_dir / "chalice-local.log").open("ab")
        process = subprocess.Popen(
            [
                str(chalice),
                "local",
                "--stage",
                STAGE,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.api_port),
                "--no-autoreload",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._children.append(process)
        api = f"http://127.0.0.1:{self.api_port}"
        _wait_for_http(f"{api}/health", timeout=60, process=process)
        self.outputs.update(
            api=api,
            apiLog=str(self.state_dir / "chalice-local.log"),
            apiPid=process.pid,
            pid=os.getpid(),
            readySeconds=round(time.monotonic() - self.started_at, 2),
        )

    def _start_schedules(self) -> None:
        from app import app
        from devstack.schedules import LocalScheduler

        scheduler = LocalScheduler(app).start()
        self._cleanups.append(scheduler.stop)
        self.outputs["schedules"] = {job.name: job.expression for job in scheduler.jobs}

    def _start_web(self, stack: Any) -> None:
        """The learners' site on 127.0.0.1, configured from this stack (devstack/web.py)."""
        from devstack.web import (
            WebBuildError,
            WebServer,
            allow_site_origin,
            cognito_confirmer,
            ensure_built,
            local_config,
        )

        try:
            dist = ensure_built()
        except WebBuildError as error:
            raise LocalStackError(str(error)) from None
        origin = web_origin(self.web_port)
        allow_site_origin(boto3.client("s3", region_name=REGION), stack.data_bucket, origin)
        config = local_config(self.outputs, origin)
        confirm = cognito_confirmer(boto3.client("cognito-idp", region_name=REGION), self.outputs["userPoolId"])
        server = WebServer(self.web_port, dist, config, confirm).start()
        self._cleanups.append(server.stop)
        (self.state_dir / "web-config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        self.outputs.update(web=server.url)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        for process in self._children:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(5)
        for cleanup in reversed(self._cleanups):
            try:
                cleanup()
            except Exception:
                logger.exception("while stopping the local stack")
        if self._owns_state_dir:  # a clamd started by a step that was interrupted half-way
            _stop_orphans(self.state_dir, None)
        if self._wrote_info:
            self.info_path.unlink(missing_ok=True)
        if self._run_lock is not None:
            self._run_lock.close()  # releases the claim
            self._run_lock = None

    def wait(self) -> None:
        self._stopping.wait()


def web_origin(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def launch(state_dir: Path, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.Popen[bytes]:
    """Start ``up`` in a child process on free ports (tests, benchmarks); return once it is ready.

    Its output goes to ``<state_dir>.log``. Stop it with SIGINT or ``stop_running(state_dir)``.
    """
    env = {
        key: value for key, value in (env or dict(os.environ)).items() if key not in {"AWS_ENDPOINT_URL", "MOTO_PORT"}
    }
    log_path = state_dir.with_name(state_dir.name + ".log")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devstack.local",
                "up",
                "--state-dir",
                str(state_dir),
                "--moto-port",
                str(free_port()),
                "--api-port",
                str(free_port()),
                "--web-port",
                str(free_port()),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout
    while read_info(state_dir) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise LocalStackError(f"local stack did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
        time.sleep(0.02)
    return process


def banner(info: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"Manabi Plus local stack ready in {info['readySeconds']} s",
            f"  Web app        {info['web']}   <- open this in a browser",
            f"  API            {info['api']}   (log: {info['apiLog']})",
            f"  AWS emulator   {info['emulator']}   region {info['region']}",
            f"  clamd          {info['clamd']}   definitions {info['definitions']}",
            f"  user pool      {info['userPoolId']}   CLI client {info['cliClientId']}",
            f"  data bucket    {info['dataBucket']}",
            f"  state machine  {info['stateMachineArn']}",
            "Nothing is kept when it stops: accounts and files live in memory, so sign up again after a restart.",
            f"Try:  open {info['web']} and create an account (confirmed at once locally),",
            "      or .venv/bin/manabi signup hanako --email hanako@example.jp --password 'Manabi+2026'",
            "Stop: Ctrl-C here, or `make stop` from another terminal.",
        ]
    )


def _stop_orphans(state_dir: Path, info: dict[str, Any] | None) -> None:
    """A stack killed without its cleanup (SIGKILL) leaves clamd and chalice local running:
    stop those (only processes whose command line names this stack's files)."""
    candidates: list[tuple[int, bytes]] = []
    try:
        candidates.append((int((state_dir / "clamd" / "clamd.pid").read_text().strip()), str(state_dir).encode()))
    except (OSError, ValueError):
        pass
    if info and info.get("apiPid"):
        candidates.append((int(info["apiPid"]), b"chalice"))
    for pid, marker in candidates:
        try:
            command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker in command_line and alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and alive(pid):
                time.sleep(0.05)
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def stop_running(state_dir: Path, timeout: float = 30) -> bool:
    """Stop the stack recorded in ``state_dir``; False when none was running."""
    info = read_info(state_dir)
    pid = int(info.get("pid", 0)) if info else 0
    if not alive(pid):
        pid = running_pid(state_dir) or 0  # a stack still starting has no stack.json yet
    if not alive(pid):
        (state_dir / "stack.json").unlink(missing_ok=True)
        _stop_orphans(state_dir, info)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.1)
    if alive(pid):
        raise LocalStackError(f"local stack (pid {pid}) did not stop within {timeout}s")
    _stop_orphans(state_dir, info)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.local", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "stop", "status"])
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("MANABI_STATE_DIR") or DEFAULT_STATE_DIR))
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("MANABI_MOTO_PORT", "5000")))
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("MANABI_API_PORT", "8000")))
    parser.add_argument("--web-port", type=int, default=int(os.environ.get("MANABI_WEB_PORT", "8080")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("werkzeug", "botocore", "moto"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.command == "stop":
        print("stopped" if stop_running(args.state_dir) else "no local stack was running")
        return 0
    if args.command == "status":
        info = read_info(args.state_dir)
        running = bool(info and alive(int(info.get("pid", 0))))
        print(json.dumps(info if running else {"running": False}, indent=2))
        return 0 if running else 1
    stack = LocalStack(
        state_dir=args.state_dir, moto_port=args.moto_port, api_port=args.api_port, web_port=args.web_port
    )
    signal.signal(signal.SIGTERM, _interrupt)  # `make stop`: like Ctrl-C, also while still starting
    try:
        info = stack.start()
        print(banner(info), flush=True)
        stack.wait()
    except KeyboardInterrupt:
        pass
    except LocalStackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the cleanup finish
        stack.stop()
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
