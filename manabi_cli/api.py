"""Where the CLI talks to: the API, Cognito and (for trace) Step Functions."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from manabi_cli.session import Session

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 1024 * 1024


class CliError(Exception):
    """Something the user can act on; printed as one line."""


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it runs
        return True
    return pid > 0


def _local_stack() -> dict[str, Any] | None:
    """The running local stack's ``stack.json`` (``$MANABI_STATE_DIR``, default ``.local/``); one a
    stack that died left behind does not count."""
    state_dir = Path(os.environ.get("MANABI_STATE_DIR") or ROOT / ".local")
    path = state_dir / "stack.json"
    if not path.is_file():
        return None
    info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return info if _running(int(info.get("pid", 0))) else None


@dataclass(frozen=True)
class Target:
    api_url: str
    region: str
    client_id: str | None
    state_machine_arn: str | None
    aws_endpoint: str | None  # the emulator, for the local stack
    local: bool
    stack_id: str | None = None  # which run of the local stack (it keeps no state across runs)

    def cognito(self) -> Cognito:
        if not self.client_id:
            raise CliError("no Cognito app client: pass --client-id (the main stack's CliUserPoolClientId output)")
        return Cognito(self.aws("cognito-idp"), self.client_id, self)

    def api(self, session: Session) -> ApiClient:
        stored = session.load(self.api_url)
        if not stored:
            raise CliError(f"not signed in to {self.api_url}: run `manabi login USERNAME`")
        if self.local and stored.get("stackId") != self.stack_id:
            raise CliError(
                "the local stack was restarted since you signed in, and it keeps no accounts or files "
                "across restarts: run `manabi signup …` and `manabi login …` again"
            )
        return ApiClient(self.api_url, stored["IdToken"])

    def session_fields(self) -> dict[str, str]:
        """What a saved sign-in records besides the tokens."""
        return {"stackId": self.stack_id} if self.local and self.stack_id else {}

    def invoke(self, function_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A deployed function's answer (``RequestResponse``); its error as a CliError. Waits as
        long as the function may run (a canary through a cold scanner takes minutes), and never
        retries: a retried invoke would run the function a second time."""
        try:
            client = self.aws("lambda", config=SYNCHRONOUS_INVOKE)
            response = client.invoke(FunctionName=function_name, Payload=json.dumps(payload).encode())
        except (BotoCoreError, ClientError) as error:
            raise _aws_error(error) from error
        answer = json.loads(response["Payload"].read() or b"{}")
        if response.get("FunctionError"):
            raise CliError(f"{function_name} failed: {answer.get('errorType')}: {answer.get('errorMessage')}")
        return answer  # type: ignore[no-any-return]

    def local_stack(self) -> dict[str, Any]:
        stack = _local_stack()
        if not self.local or stack is None:
            raise CliError("no local stack is running (start it with `make run`)")
        return stack

    def aws(self, service: str, resource: bool = False, config: Config | None = None) -> Any:
        """A client (or resource) for this target: the emulator's for the local stack."""
        make = boto3.resource if resource else boto3.client
        if self.local:
            return make(
                service,
                region_name=self.region,
                endpoint_url=self.aws_endpoint,
                aws_access_key_id="local",
                aws_secret_access_key="local",  # noqa: S106 - the emulator accepts any key
                config=config,
            )
        return make(service, region_name=self.region, config=config)

    def workflow(self) -> Workflow:
        if not self.state_machine_arn:
            raise CliError("no state machine: pass --state-machine-arn (the main stack's ScanStateMachineArn output)")
        return Workflow(self.aws("stepfunctions"), self.state_machine_arn)


# The longest a Chalice function here may run (.chalice/config.json: lambda_timeout 900), and a bit.
SYNCHRONOUS_INVOKE = Config(read_timeout=910, connect_timeout=10, retries={"total_max_attempts": 1})


def resolve_target(api: str | None, region: str | None, client_id: str | None, state_machine: str | None) -> Target:
    local = _local_stack()
    if api is None and local is None:
        raise CliError("no local stack is running (start it with `make run`), and no --api was given")
    if api is None or (local is not None and api.rstrip("/") == local["api"]):
        assert local is not None
        return Target(
            local["api"],
            local["region"],
            client_id or local["cliClientId"],
            state_machine or local["stateMachineArn"],
            local["emulator"],
            local=True,
            stack_id=local.get("stackId"),
        )
    return Target(
        api.rstrip("/"),
        region or os.environ.get("AWS_DEFAULT_REGION", "ap-northeast-1"),
        client_id or os.environ.get("MANABI_CLIENT_ID"),
        state_machine or os.environ.get("MANABI_STATE_MACHINE_ARN"),
        None,
        local=False,
    )


def _aws_error(error: Exception) -> CliError:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code, message = details.get("Code", ""), details.get("Message") or str(error)
        return CliError(f"{message} ({code})" if code else message)
    return CliError(str(error))


def _sign_up_error(error: Exception, username: str, password_rules: str) -> CliError:
    """Cognito's refusals of a sign-up, in words (the emulator answers a taken name with the name alone)."""
    code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
    if code == "UsernameExistsException":
        return CliError(f"the username {username} is taken: choose another, or sign in with `manabi login {username}`")
    if code == "InvalidPasswordException":
        return CliError(f"the password is too weak: it needs {password_rules}")
    return _aws_error(error)


class Cognito:
    def __init__(self, client: Any, client_id: str, target: Target) -> None:
        self._client = client
        self._client_id = client_id
        self._target = target

    def sign_up(self, username: str, email: str, password: str, password_rules: str | None = None) -> None:
        try:
            self._client.sign_up(
                ClientId=self._client_id,
                Username=username,
                Password=password,
                UserAttributes=[{"Name": "email", "Value": email}],
            )
        except (ClientError, BotoCoreError) as error:
            raise _sign_up_error(error, username, password_rules or "the user pool's password rules") from None

    def confirm(self, username: str, code: str) -> None:
        try:
            self._client.confirm_sign_up(ClientId=self._client_id, Username=username, ConfirmationCode=code)
        except (ClientError, BotoCoreError) as error:
            raise _aws_error(error) from None

    def confirm_locally(self, username: str) -> None:
        """The emulator sends no e-mail; confirm as an administrator would."""
        pool_id = (_local_stack() or {})["userPoolId"]
        try:
            self._client.admin_confirm_sign_up(UserPoolId=pool_id, Username=username)
        except (ClientError, BotoCoreError) as error:
            raise _aws_error(error) from None

    def login(self, username: str, password: str) -> dict[str, str]:
        try:
            result = self._client.initiate_auth(
                ClientId=self._client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
        except (ClientError, BotoCoreError) as error:
            raise _aws_error(error) from None
        if "AuthenticationResult" not in result:
            raise CliError(f"sign-in needs another step ({result.get('ChallengeName')}); use the web site once")
        tokens = result["AuthenticationResult"]
        return {"IdToken": tokens["IdToken"], "RefreshToken": tokens.get("RefreshToken", "")}


class ApiClient:
    def __init__(self, base_url: str, id_token: str) -> None:
        self._base = base_url
        self._http = requests.Session()
        self._http.headers.update({"Authorization": id_token})

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = self._http.request(method, self._base + path, json=body, timeout=30)
        except requests.RequestException as error:
            raise CliError(f"cannot reach {self._base}: {error.__class__.__name__}") from None
        if response.status_code == 401:
            raise CliError("the session has expired or is invalid: run `manabi login USERNAME` again")
        if response.status_code >= 400:
            try:
                problem = response.json()
                message = problem.get("message") or problem.get("Message") or response.text
            except ValueError:
                message = response.text.strip() or response.reason
            raise CliError(f"{message} (HTTP {response.status_code})")
        return response.json() if response.content else {}

    def get(self, path: str) -> Any:
        return self._call("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self._call("POST", path, body)

    def delete(self, path: str) -> Any:
        return self._call("DELETE", path)

    def upload(self, form: dict[str, Any], path: Path, report: Callable[[int], None]) -> None:
        """POST the file to the presigned form as multipart, streamed from disk."""
        boundary = uuid.uuid4().hex
        head = (
            b"".join(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
                for name, value in form["fields"].items()
            )
            + f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="upload"\r\n'.encode()
            + (b"Content-Type: application/octet-stream\r\n\r\n")
        )
        tail = f"\r\n--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        with path.open("rb") as source:
            body = _MultipartBody(head, source, path.stat().st_size, tail, report)
            try:
                response = requests.post(form["url"], data=body, headers=headers, timeout=600)
            except requests.RequestException as error:
                raise CliError(f"upload failed: {error.__class__.__name__}") from None
        if response.status_code not in (200, 201, 204):
            raise CliError(f"the storage refused the upload (HTTP {response.status_code}): {response.text[:200]}")

    def download(self, url: str, output: Path, report: Callable[[int], None]) -> int:
        """Stream into ``<output>.part`` and rename it when complete; nothing is left behind on failure."""
        written = 0
        partial = output.with_name(output.name + ".part")
        try:
            with requests.get(url, stream=True, timeout=600) as response:
                if response.status_code != 200:
                    raise CliError(f"the storage refused the download (HTTP {response.status_code})")
                with partial.open("wb") as target:
                    for chunk in response.iter_content(CHUNK):
                        target.write(chunk)
                        written += len(chunk)
                        report(written)
                partial.replace(output)
        except requests.RequestException as error:
            raise CliError(f"download failed: {error.__class__.__name__}") from None
        except OSError as error:
            raise CliError(f"cannot write {output}: {error.strerror or error}") from None
        finally:
            partial.unlink(missing_ok=True)
        return written


class _MultipartBody:
    """A file-like multipart body of known length (so it is sent with Content-Length, not chunked,
    which S3 POST requires), read from disk as it goes."""

    def __init__(self, head: bytes, source: Any, size: int, tail: bytes, report: Callable[[int], None]) -> None:
        self._parts = [head, source, tail]
        self._length = len(head) + size + len(tail)
        self._sent_file = 0
        self._report = report

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        size = CHUNK if size is None or size < 0 else size
        while self._parts:
            part = self._parts[0]
            if isinstance(part, bytes):
                data, self._parts[0] = part[:size], part[size:]
                if not self._parts[0]:
                    self._parts.pop(0)
            else:
                data = part.read(size)
                if not data:
                    self._parts.pop(0)
                    continue
                self._sent_file += len(data)
                self._report(self._sent_file)
            if data:
                return data
        return b""


class Workflow:
    """Reads scan executions the way the Step Functions console shows them."""

    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._client = client
        self._arn = state_machine_arn

    def trace(self, file_id: str) -> dict[str, Any]:
        try:
            paginator = self._client.get_paginator("list_executions")
            executions = [
                execution
                for page in paginator.paginate(stateMachineArn=self._arn)
                for execution in page["executions"]
                if execution["name"].startswith(f"{file_id}-")
            ]
            if not executions:
                raise CliError(f"no scan of {file_id} has started yet")
            latest = max(executions, key=lambda execution: execution["startDate"])
            history = self._client.get_execution_history(executionArn=latest["executionArn"], maxResults=1000)
        except (ClientError, BotoCoreError) as error:
            raise _aws_error(error) from None
        return {
            "execution": latest["name"],
            "status": latest["status"],
            "scans": len(executions),
            "steps": steps_of(history["events"]),
        }


def steps_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per state entered: name, start, duration, and what it produced or why it failed."""
    steps: list[dict[str, Any]] = []
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            steps.append(
                {
                    "state": event["stateEnteredEventDetails"]["name"],
                    "started": event["timestamp"].isoformat(),
                    "seconds": None,
                    "_start": event["timestamp"],
                }
            )
        elif kind.endswith("StateExited") and steps:
            step = steps[-1]
            step["seconds"] = round((event["timestamp"] - step["_start"]).total_seconds(), 3)
            output = json.loads(event["stateExitedEventDetails"].get("output") or "{}")
            scan = output.get("scan") if isinstance(output, dict) else None
            if step["state"] == "Scan" and isinstance(scan, dict):
                detail = f"{scan.get('verdict')} {scan.get('signature') or ''}".strip()
                step["detail"] = f"{detail}: {scan['reason']}" if scan.get("reason") else detail
        elif kind in {"TaskFailed", "LambdaFunctionFailed", "ExecutionFailed"} and steps:
            details: dict[str, Any] = next((value for key, value in event.items() if key.endswith("EventDetails")), {})
            cause = f": {details['cause']}" if details.get("cause") else ""
            steps[-1]["detail"] = f"failed: {details.get('error', '')}{cause}".strip()
    for step in steps:
        step.pop("_start")
    return steps
