"""IAM enforced in the functional tests (issue #11): the code of every function calls AWS with
the credentials of a moto IAM role that holds exactly that function's policy from the packaged
template, so a missing permission fails a test.

Roles (``function_roles``)
    ``infra/build.py``'s ``function_policies`` of the packaged stag template (``make package``):
    each Chalice function, the scanner and the state machine, its role's inline policies and
    managed policy ARNs. The functional tests run the local stage, so the documents are made the
    local stage's as CloudFormation would make them: the template's own policies (ScannerRole,
    ScanStateMachineRole: ``Fn::Sub``/``Fn::GetAtt``) are resolved with ``Stage=local`` against
    the resources the tests created from the main template (``stack.context``); the Chalice
    functions' policies are literal JSON that ``infra/build.py policies`` wrote for stag, so
    their resources are renamed from stag to the stage the test runs (``restage``: only the
    ``stag-manabiplus-`` prefix of a name, nothing else — a wrong table, bucket, key prefix,
    Region or action stays wrong and still fails). AWS managed policies are copied from the
    documents moto bundles (an ARN moto does not know is an error). A role is created in the
    emulator, with those policies, and assumed through moto's STS when it is first needed.

Who signs what
    ``chalicelib.clients.current_session`` is the function's role session while its code runs:
    the Chalice test client's HTTP requests (``api_handler``, with the client's stage) and Lambda
    invocations (that function), ``running(name)`` around the scheduled functions and the
    updater, ``handler("scanner", …)`` behind ``devstack.lambda_bridge``. moto's Step Functions
    executor signs its service integrations with the state machine's ``roleArn``: moto hard-codes
    the keys "ak"/"sk" in ``boto_client_for``, replaced while the harness is installed. Test setup
    signs with the tests' credentials (``TEST_ACCESS_KEYS``) and keeps full access; a function's
    code signing with them, or with another function's role, is an error (``WrongCredentials``).

What decides: moto's IAM-like access control, with a request mapping of ours
    moto's switch (``INITIAL_NO_AUTH_ACTION_COUNT``, ``set_initial_no_auth_action_count``) makes
    ``ActionAuthenticatorMixin._authenticate_and_authorize_action`` check every request after
    the first N. As it stands it would refuse all test setup not signed by an IAM user, fail on
    presigned URLs and POST forms (it reads the Authorization header), and could never allow a
    resource-scoped statement outside S3 (it passes "*" as the resource of every other service)
    nor name actions as IAM does (``lambda:Invoke``; S3 tagging and deletes of a version without
    their version actions). So that method is replaced while the harness is installed: for a
    role's request it keeps moto's SigV4 signature check (header-signed requests), moto's
    principal lookup (access key → assumed role → its policies, read from moto's IAM at each
    request) and moto's identity policy evaluation (an explicit Deny wins, else some Allow must
    match; moto counts every condition as met), and replaces the mapping from a request to IAM
    actions and resources (``required_permissions``), named as the Service Authorization
    Reference and S3's API reference name them, for the calls this project makes; any other call
    fails closed (``UnmappedRequest``). Presigned URLs and POST forms are evaluated as their
    signer, as S3 does at request time (their signatures are not checked). Two AWS rules moto
    does not apply are added: publishing to a KMS-encrypted topic needs ``kms:GenerateDataKey``
    and ``kms:Decrypt`` on its key, and a GET/HEAD of a missing key is 403, not 404, without
    ``s3:ListBucket``.

Conditions
    What moto allows must also be allowed by principalmapper's identity policy simulation with
    the conditions evaluated against the request's keys (``_request_context``: ``s3:prefix`` of a
    listing, ``kms:ViaService`` of SNS's use of the topic key, the principal, TLS). A statement
    that applies to a request and names any other condition key fails closed.

What it does not show: resource policies (bucket and key policies; tests/infra evaluates the
bucket locks with conditions), condition keys other than ``KNOWN_CONDITION_KEYS``, permissions
a service checks besides the ones named here, permission boundaries and SCPs.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import boto3
from botocore.config import Config

from chalicelib import clients
from devstack.resources import MainStack
from devstack.templates import TemplateContext

PACKAGED_STAGE = "stag"  # the packaged template the policies are read from
# Test setup's credentials (full access): tests/conftest.py's, and the ones mock_aws puts in the
# environment while it runs.
TEST_ACCESS_KEYS = frozenset({"testing", "FOOBARKEY"})

# Chalice function name (or the harness's name) → logical id in the packaged template.
FUNCTIONS = {
    "api_handler": "APIHandler",
    "on_object_created": "OnObjectCreated",
    "update_definitions": "UpdateDefinitions",
    "sweep_stuck_uploads": "SweepStuckUploads",
    "backup_data": "BackupData",
    "scan_canary": "ScanCanary",
    "scanner": "ScannerFunction",
    "state_machine": "ScanStateMachine",
}
_SERVERLESS = "AWS::Serverless::Function"  # Chalice's: policies are literal, generated per stage


# ------------------------------------------------------------------ policies, for the local stage
@dataclass(frozen=True)
class FunctionRole:
    function: str  # FUNCTIONS key
    logical_id: str  # the function's (or state machine's) logical id
    role_id: str  # its role's logical id
    role_name: str
    trust: dict[str, Any]
    policies: dict[str, dict[str, Any]]  # inline, resolved for the stage
    managed: dict[str, dict[str, Any]]  # AWS managed policy ARN → its document (moto's copy)


_STAGE_PREFIX = re.compile(r"(?<![A-Za-z0-9-])" + PACKAGED_STAGE + r"-manabiplus-")


def restage(document: dict[str, Any], stage: str) -> dict[str, Any]:
    """``document`` with every ``stag-manabiplus-`` name in its Resource elements renamed to
    ``stage`` (only that prefix, so nothing else about a resource changes)."""
    result = copy.deepcopy(document)
    statements = result["Statement"] if isinstance(result["Statement"], list) else [result["Statement"]]
    for statement in statements:
        if "NotResource" in statement:
            raise ValueError(f"NotResource is not evaluated by moto: {statement}")
        value = statement.get("Resource")
        if isinstance(value, str):
            statement["Resource"] = _STAGE_PREFIX.sub(f"{stage}-manabiplus-", value)
        elif isinstance(value, list):
            statement["Resource"] = [_STAGE_PREFIX.sub(f"{stage}-manabiplus-", item) for item in value]
    return result


@cache
def _managed_documents() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)  # type: ignore[no-any-return]


def _managed_document(arn: str) -> dict[str, Any]:
    known = _managed_documents()
    name = arn.rsplit("/", 1)[-1]
    if not arn.startswith("arn:aws:iam::aws:policy/") or name not in known:
        raise ValueError(f"moto does not know the managed policy {arn}: add its documented statements")
    return copy.deepcopy(known[name]["Document"])  # type: ignore[no-any-return]


def function_roles(stack: MainStack, template: dict[str, Any], stage: str = "local") -> dict[str, FunctionRole]:
    """Each function's role with its policies from the packaged ``template``, for ``stage``'s
    resources (``stack``: the local stage's resources the tests created)."""
    from infra.build import function_policies

    context = TemplateContext(
        template,
        {**stack.context.parameters, "Stage": stage},
        region=stack.context.region,
        account_id=stack.context.account_id,
        refs=dict(stack.context.refs),
        attributes=dict(stack.context.attributes),
    )
    found = function_policies(template)
    unknown = set(found) - set(FUNCTIONS.values())
    if unknown:
        raise ValueError(f"the packaged template has functions the IAM check does not run: {sorted(unknown)}")
    roles = {}
    for function, logical_id in FUNCTIONS.items():
        entry = found[logical_id]
        role = template["Resources"][entry["role"]]["Properties"]
        if template["Resources"][logical_id]["Type"] == _SERVERLESS:
            policies = {name: restage(document, stage) for name, document in entry["policies"].items()}
            role_name = f"{stage}-manabiplus-main-{entry['role']}"[:64]
        else:
            policies = {name: context.resolve(document) for name, document in entry["policies"].items()}
            role_name = context.resolve(role["RoleName"])
        managed = {arn: _managed_document(arn) for arn in context.resolve(entry["managedPolicyArns"])}
        roles[function] = FunctionRole(
            function, logical_id, entry["role"], role_name, role["AssumeRolePolicyDocument"], policies, managed
        )
    return roles


# ------------------------------------------------------------------ what a request needs
@dataclass(frozen=True)
class Permission:
    action: str
    resource: str
    # Condition keys this request sets besides every request's (``_request_context``).
    context: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def __str__(self) -> str:
        return f"{self.action} on {self.resource}"


class UnmappedRequest(Exception):
    """A call the IAM check cannot name the action or resource of: teach ``required_permissions``."""


def _first(values: Any, name: str) -> str | None:
    for key, value in values.items():
        if key.lower() == name.lower():
            return str(value[0] if isinstance(value, list) else value)
    return None


def _query(response: Any) -> dict[str, list[str]]:
    """The request's own query string (moto's ``querystring`` falls back to the form, the body
    or even the headers)."""
    return parse_qs(response.parsed_url.query, keep_blank_values=True)


def _form(response: Any) -> dict[str, str]:
    return dict(response.form_data.items()) if getattr(response, "form_data", None) else {}


_LIST_PARAMETERS = frozenset(
    {
        "list-type",
        "prefix",
        "delimiter",
        "max-keys",
        "continuation-token",
        "start-after",
        "encoding-type",
        "fetch-owner",
        "marker",
    }
)


def _s3_permissions(response: Any, resource: str) -> list[Permission]:
    """S3's actions as IAM names them (version-specific ones included) for one request."""
    method, query, headers = response.method, _query(response), response.headers
    path = resource.split(":::", 1)[1]
    bucket, _, key = path.partition("/")
    bucket_arn = f"arn:aws:s3:::{bucket}"
    versioned = "versionId" in query
    if bucket == "*":
        return [Permission("s3:ListAllMyBuckets", "*")]
    if not key:
        if method == "POST" and "delete" in query:
            return _delete_objects(response.body, bucket_arn)
        if method == "POST":  # a POST form upload: the key is a form field
            form_key = _first(response.querystring, "key")  # moto replaced ${filename} there
            if form_key is None:
                raise UnmappedRequest(f"POST to s3://{bucket} without a key field")
            return [Permission("s3:PutObject", f"{bucket_arn}/{form_key}")]
        prefix = (("s3:prefix", query["prefix"][0]),) if "prefix" in query else ()
        if method in ("GET", "HEAD") and not set(query) - _LIST_PARAMETERS:
            return [Permission("s3:ListBucket", bucket_arn, prefix)]
        if method == "GET" and "versions" in query:
            return [Permission("s3:ListBucketVersions", bucket_arn, prefix)]
        return [Permission(f"s3:{response.data['Action']}", bucket_arn)]
    object_arn = f"{bucket_arn}/{key}"
    if method in ("GET", "HEAD"):
        if "tagging" in query:  # "To retrieve tags of any other version … You also need …"
            return _versioned(object_arn, "s3:GetObjectTagging", "s3:GetObjectVersionTagging", versioned)
        if "acl" in query:
            return [Permission("s3:GetObjectVersionAcl" if versioned else "s3:GetObjectAcl", object_arn)]
        # "You need the s3:GetObjectVersion permission to access a specific version" (no "also").
        return [Permission("s3:GetObjectVersion" if versioned else "s3:GetObject", object_arn)]
    if method == "PUT":
        if "tagging" in query:  # "To put tags of any other version … You also need …"
            return _versioned(object_arn, "s3:PutObjectTagging", "s3:PutObjectVersionTagging", versioned)
        if "acl" in query:
            return [Permission("s3:PutObjectVersionAcl" if versioned else "s3:PutObjectAcl", object_arn)]
        needed = [Permission("s3:PutObject", object_arn)]
        if headers.get("x-amz-tagging"):
            needed.append(Permission("s3:PutObjectTagging", object_arn))
        source = headers.get("x-amz-copy-source")
        if source:
            parsed = urlparse(unquote(source))
            action = "s3:GetObjectVersion" if "versionId=" in parsed.query else "s3:GetObject"
            needed.append(Permission(action, f"arn:aws:s3:::{parsed.path.lstrip('/')}"))
        return needed
    if method == "POST":  # multipart uploads
        return [Permission("s3:PutObject", object_arn)]
    if method == "DELETE":
        if "uploadId" in query:
            return [Permission("s3:AbortMultipartUpload", object_arn)]
        if "tagging" in query:
            return _versioned(object_arn, "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging", versioned)
        # "you must always have the s3:DeleteObject permission", and DeleteObjectVersion for a version
        return _versioned(object_arn, "s3:DeleteObject", "s3:DeleteObjectVersion", versioned)
    raise UnmappedRequest(f"S3 {method} {resource}")


def _versioned(object_arn: str, action: str, version_action: str, versioned: bool) -> list[Permission]:
    """S3's API reference: the version-specific action is needed as well, not instead."""
    needed = [Permission(action, object_arn)]
    if versioned:
        needed.append(Permission(version_action, object_arn))
    return needed


def _delete_objects(body: Any, bucket_arn: str) -> list[Permission]:
    text = body.decode() if isinstance(body, bytes) else str(body)
    root = ElementTree.fromstring(text)  # noqa: S314 - a request this process built
    needed = []
    for element in root.iter():
        if not element.tag.endswith("Object"):
            continue
        fields = {child.tag.rsplit("}", 1)[-1]: child.text or "" for child in element}
        needed += _versioned(
            f"{bucket_arn}/{fields['Key']}", "s3:DeleteObject", "s3:DeleteObjectVersion", bool(fields.get("VersionId"))
        )
    return needed


def _json_body(response: Any) -> dict[str, Any]:
    body = response.raw_body
    if isinstance(body, bytes):
        body = body.decode()
    return json.loads(body or "{}")  # type: ignore[no-any-return]


def _service_permissions(response: Any, service: str, operation: str) -> list[Permission]:
    region, account = response.region, response.current_account
    if service == "dynamodb":
        body = _json_body(response)
        table = f"arn:aws:dynamodb:{region}:{account}:table/{body.get('TableName', '')}"
        if operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
            return [Permission(f"dynamodb:{operation}", table, _leading_keys(body, region, account))]
        if operation == "DescribeTable":
            return [Permission(f"dynamodb:{operation}", table)]
        if operation in ("Query", "Scan"):
            index = f"/index/{body['IndexName']}" if body.get("IndexName") else ""
            return [Permission(f"dynamodb:{operation}", table + index)]
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [
                Permission(f"dynamodb:{operation}", f"arn:aws:dynamodb:{region}:{account}:table/{name}")
                for name in body.get("RequestItems", {})
            ]
    elif service == "states":
        body = _json_body(response)
        if operation in ("StartExecution", "StartSyncExecution", "DescribeStateMachine", "ListExecutions"):
            return [Permission(f"states:{operation}", body["stateMachineArn"])]
        if operation in ("DescribeExecution", "StopExecution", "GetExecutionHistory"):
            return [Permission(f"states:{operation}", body["executionArn"])]
    elif service == "sns" and operation == "Publish":
        topic = _first(response.querystring, "TopicArn") or _first(response.querystring, "TargetArn") or ""
        return [Permission("sns:Publish", topic), *_topic_key_permissions(topic, region, account)]
    elif service == "secretsmanager" and operation in ("GetSecretValue", "DescribeSecret"):
        secret = _secret_arn(_json_body(response)["SecretId"], region, account)
        return [Permission(f"secretsmanager:{operation}", secret)]
    elif service == "lambda" and operation == "Invoke":
        name = unquote(response.parsed_url.path.split("/functions/", 1)[1].rsplit("/invocations", 1)[0])
        arn = name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"
        qualifier = _first(_query(response), "Qualifier")
        return [Permission("lambda:InvokeFunction", f"{arn}:{qualifier}" if qualifier else arn)]
    elif service in ("monitoring", "cloudwatch") and operation == "PutMetricData":
        namespace = _first(response.querystring, "Namespace") or _json_body(response).get("Namespace", "")
        return [Permission("cloudwatch:PutMetricData", "*", (("cloudwatch:namespace", namespace),))]
    elif service == "sts" and operation == "GetCallerIdentity":
        return []  # always allowed
    raise UnmappedRequest(f"{service}:{operation}")


def _leading_keys(body: dict[str, Any], region: str, account: str) -> tuple[tuple[str, str], ...]:
    """``dynamodb:LeadingKeys`` of an item request: the partition key value it names."""
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[account][region].tables.get(body.get("TableName", ""))
    item = body.get("Key") or body.get("Item") or {}
    value = item.get(table.hash_key_attr) if table is not None else None
    if not isinstance(value, dict) or not value:
        return ()
    return (("dynamodb:LeadingKeys", str(next(iter(value.values())))),)


def _topic_key_permissions(topic_arn: str, region: str, account: str) -> list[Permission]:
    """SNS encrypts with the topic's key on the publisher's behalf: the publisher needs
    kms:GenerateDataKey and kms:Decrypt on it (SNS developer guide, server-side encryption)."""
    from moto.sns.models import sns_backends

    topic = sns_backends[account][region].topics.get(topic_arn)
    key = getattr(topic, "kms_master_key_id", "") if topic else ""
    if not key:
        return []
    key_arn = key if key.startswith("arn:") else f"arn:aws:kms:{region}:{account}:key/{key}"
    via = (("kms:ViaService", f"sns.{region}.amazonaws.com"), ("kms:CallerAccount", account))
    return [Permission("kms:GenerateDataKey", key_arn, via), Permission("kms:Decrypt", key_arn, via)]


def _secret_arn(secret_id: str, region: str, account: str) -> str:
    if secret_id.startswith("arn:"):
        return secret_id
    from moto.secretsmanager.models import secretsmanager_backends

    secret = secretsmanager_backends[account][region].secrets.get(secret_id)
    return str(secret.arn) if secret is not None else f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_id}"


def _missing_object(response: Any, resource: str) -> bool:
    """A GET/HEAD (no versionId) of a key that does not exist."""
    query = _query(response)
    if response.method not in ("GET", "HEAD") or "versionId" in query:
        return False
    if set(query) & {"tagging", "acl", "uploadId"}:
        return False
    bucket, _, key = resource.split(":::", 1)[1].partition("/")
    if not key or bucket == "*":
        return False
    try:
        return response.backend.get_object(bucket, key) is None  # type: ignore[no-any-return]
    except Exception:  # noqa: BLE001 - a missing bucket: moto answers that itself
        return False


def required_permissions(response: Any, service: str, resource: str) -> list[Permission]:
    """The IAM actions and resources a request needs, as the Service Authorization Reference
    names them. ``resource`` is what moto computed (only meaningful for S3)."""
    if service == "s3":
        return _s3_permissions(response, resource)
    return _service_permissions(response, service, response._get_action())


# ------------------------------------------------------------------ decisions
@dataclass(frozen=True)
class Check:
    """One permission a function's request needed."""

    function: str
    permission: Permission

    def __str__(self) -> str:
        return f"{self.function}: {self.permission}"


class WrongCredentials(Exception):
    """Function code signed a request with the test setup's or another function's credentials."""


def _credentials(response: Any) -> tuple[str, str | None, bool] | None:
    """(access key id, session token, signed in the Authorization header) of a request, or None."""
    authorization = response.headers.get("Authorization", "")
    if "Credential=" in authorization:
        key = authorization.partition("Credential=")[2].partition("/")[0]
        return key, response.headers.get("X-Amz-Security-Token"), True
    for fields in (_query(response), _form(response)):  # a presigned URL, a POST form
        credential = _first(fields, "X-Amz-Credential")
        if credential:
            return credential.partition("/")[0], _first(fields, "X-Amz-Security-Token"), False
        access_key = _first(fields, "AWSAccessKeyId")  # SigV2
        if access_key:
            return access_key, _first(fields, "X-Amz-Security-Token"), False
    return None


def _signing_service(response: Any, s3: bool) -> str:
    if s3:
        return "s3"
    authorization = response.headers.get("Authorization", "")
    scope = authorization.partition("Credential=")[2].partition(",")[0].split("/")
    return scope[3] if len(scope) > 3 else str(response.service_name)


def _deny(response: Any, s3: bool, principal: str, service: str, permission: Permission) -> Exception:
    """The error the service answers a denied request with."""
    from moto.core.exceptions import AccessDeniedError, JsonRESTError
    from moto.s3.exceptions import BucketAccessDeniedError, S3AccessDeniedError

    if s3:
        bucket = response.data.get("BucketName") if isinstance(response.data, dict) else None
        return BucketAccessDeniedError(bucket=bucket) if bucket else S3AccessDeniedError()
    if service in ("dynamodb", "states", "secretsmanager", "kms", "lambda"):  # JSON protocols
        error = JsonRESTError(
            "AccessDeniedException",
            f"User: {principal} is not authorized to perform: {permission.action} on resource: "
            f"{permission.resource} because no identity-based policy allows the {permission.action} action",
        )
        error.code = 403 if service == "lambda" else 400
        return error
    return AccessDeniedError(principal, f"{permission.action} on resource: {permission.resource}")


class RoleSession:
    """What ``chalicelib.clients`` asks of a boto3 Session (``client``, ``resource``), signing as
    a role: clients of one shared session given the role's credentials (a boto3 Session per role
    costs tens of milliseconds to create and parses every service model again)."""

    def __init__(self, credentials: dict[str, Any], region: str) -> None:
        self.access_key = str(credentials["AccessKeyId"])
        self._credentials = {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
            "region_name": region,
        }

    def client(self, service: str, **kwargs: Any) -> Any:
        return _shared_session().client(service, **{**self._credentials, **kwargs})  # type: ignore[call-overload]

    def resource(self, service: str, **kwargs: Any) -> Any:
        return _shared_session().resource(service, **{**self._credentials, **kwargs})  # type: ignore[call-overload]


@cache
def _shared_session() -> boto3.Session:
    return boto3.Session()


_running: ContextVar[str | None] = ContextVar("iam_function", default=None)
_installed: IamHarness | None = None


@dataclass
class IamHarness:
    stack: MainStack
    template: dict[str, Any]  # the packaged template
    session: boto3.Session  # test setup's
    roles: dict[str, FunctionRole] = field(default_factory=dict)  # function (or function@stage) → its role
    sessions: dict[str, RoleSession] = field(default_factory=dict)  # … → its role's session, once created
    keys: dict[str, str] = field(default_factory=dict)  # access key id → function
    denials: list[Check] = field(default_factory=list)
    granted: list[Check] = field(default_factory=list)  # every permission checked and allowed
    errors: list[str] = field(default_factory=list)  # wrong credentials, unmapped calls
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _setup_clients: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.roles = function_roles(self.stack, self.template)

    # -------------------------------------------------------------- roles in moto
    @property
    def _iam(self) -> Any:
        if "iam" not in self._setup_clients:
            self._setup_clients["iam"] = self.session.client("iam")
            self._setup_clients["sts"] = self.session.client("sts")
        return self._setup_clients["iam"]

    def role_session(self, key: str) -> RoleSession:
        """The session of ``key``'s role (a function, or ``function@stage``), which is created in
        the emulator with its policies and assumed the first time it is needed."""
        with self._lock:
            if key not in self.sessions:
                role = self.roles[key]
                arn = self._iam.create_role(RoleName=role.role_name, AssumeRolePolicyDocument=json.dumps(role.trust))
                self._put_policies(role)
                credentials = self._setup_clients["sts"].assume_role(
                    RoleArn=arn["Role"]["Arn"], RoleSessionName=key.replace("@", "-")[:64]
                )["Credentials"]
                self.sessions[key] = RoleSession(credentials, self.session.region_name)
                self.keys[self.sessions[key].access_key] = key
            return self.sessions[key]

    def _put_policies(self, role: FunctionRole) -> None:
        """Give the moto role exactly ``role``'s policies (moto reads them at every request)."""
        iam = self._iam
        for name in iam.list_role_policies(RoleName=role.role_name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=role.role_name, PolicyName=name)
        for name, document in role.policies.items():
            iam.put_role_policy(RoleName=role.role_name, PolicyName=name, PolicyDocument=json.dumps(document))
        for arn, document in role.managed.items():
            name = "aws-managed-" + arn.rsplit("/", 1)[-1]
            iam.put_role_policy(RoleName=role.role_name, PolicyName=name, PolicyDocument=json.dumps(document))

    def _replace_role(self, key: str, role: FunctionRole) -> None:
        with self._lock:
            self.roles[key] = role
            if key in self.sessions:
                self._put_policies(role)

    def change_policy(self, function: str, change: Callable[[dict[str, Any]], None]) -> FunctionRole:
        """Apply ``change`` to a copy of the function's (only) inline policy and give its role that."""
        role = self.roles[function]
        ((name, document),) = role.policies.items()
        changed = copy.deepcopy(document)
        change(changed)
        updated = replace(role, policies={name: changed})
        self._replace_role(function, updated)
        return updated

    def use_template(self, template: dict[str, Any]) -> None:
        """Give every role its policies from ``template`` instead (a changed copy of the packaged one)."""
        for function, role in function_roles(self.stack, template).items():
            self._replace_role(function, role)

    def _stage_key(self, function: str, stage: str) -> str:
        """The function's role for a Chalice stage other than local (a test of prod settings)."""
        if stage == "local":
            return function
        key = f"{function}@{stage}"
        with self._lock:
            if key not in self.roles:
                self.roles[key] = function_roles(self.stack, self.template, stage)[function]
        return key

    # -------------------------------------------------------------- who runs
    def client(self, function: str, service: str) -> Any:
        return self.role_session(function).client(service)

    @contextmanager
    def running(self, function: str, stage: str = "local") -> Iterator[None]:
        """``function``'s code runs: its clients come from its role's session."""
        key = self._stage_key(function, stage)
        session = self.role_session(key)  # before the function runs: test setup creates the role
        function_token = _running.set(key)
        session_token = clients.current_session.set(session)  # type: ignore[arg-type]
        try:
            yield
        finally:
            clients.current_session.reset(session_token)
            _running.reset(function_token)

    def handler(self, function: str, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def run(event: Any, context: Any) -> Any:
            with self.running(function):
                return handler(event, context)

        return run

    def session_for_role(self, role_arn: str) -> RoleSession:
        name = role_arn.rsplit("/", 1)[-1]
        for key, role in list(self.roles.items()):
            if role.role_name == name:
                return self.role_session(key)
        raise WrongCredentials(f"no role {role_arn} in the IAM check")

    # -------------------------------------------------------------- decisions
    def authorize(self, response: Any, iam_request_cls: type, resource: str) -> None:
        s3 = iam_request_cls.__name__ == "S3IAMRequest"
        found = _credentials(response)
        running = _running.get()
        if found is None or found[0] in TEST_ACCESS_KEYS:
            if running is not None:
                self._error(f"{running}'s code called AWS with the test setup's credentials (or none)")
            if found is None and s3:  # no public access anywhere (every bucket blocks it)
                self.denials.append(Check("anonymous", Permission("s3:*", resource)))
                raise _deny(response, s3, "anonymous", "s3", Permission("s3:*", resource))
            return
        access_key, token, signed = found
        function = self.keys.get(access_key)
        if function is None:
            from moto.core.exceptions import InvalidClientTokenIdError

            raise InvalidClientTokenIdError()
        if running is not None and running != function:
            self._error(f"{running}'s code called AWS with {function}'s credentials")
        from moto.iam.access_control import create_access_key

        if signed:
            parsed = urlparse(response.uri)
            path = response.raw_path + (f"?{parsed.query}" if parsed.query else "")
            iam_request = iam_request_cls(
                account_id=response.current_account,
                method=response.method,
                path=path,
                data=response.data,
                body=response.raw_body,
                headers=response.headers,
                action=response._get_action(),
            )
            iam_request.check_signature()
            principal = iam_request._access_key
        else:
            from moto.core.exceptions import InvalidClientTokenIdError
            from moto.iam.access_control import CreateAccessKeyFailure

            headers = {"X-Amz-Security-Token": token} if token else {}
            try:
                principal = create_access_key(response.current_account, "aws", access_key, headers)
            except CreateAccessKeyFailure:
                raise InvalidClientTokenIdError() from None
        service = _signing_service(response, s3)
        try:
            needed = required_permissions(response, service, resource)
        except UnmappedRequest as unmapped:
            self.errors.append(f"{function}: the IAM check does not know what {unmapped} needs (tests/support/iam.py)")
            raise
        if s3 and _missing_object(response, resource):
            bucket = resource.split(":::", 1)[1].partition("/")[0]
            needed.append(Permission("s3:ListBucket", f"arn:aws:s3:::{bucket}"))
        policies = principal.collect_policies()
        for permission in needed:
            context = _request_context(principal.arn, response.current_account, response.region, permission)
            try:
                allowed = _allowed(policies, permission, context)
            except UnmappedRequest as unmapped:
                self.errors.append(f"{function}: the IAM check cannot decide {unmapped} (tests/support/iam.py)")
                raise
            if not allowed:
                self.denials.append(Check(function, permission))
                raise _deny(response, s3, principal.arn, service, permission)
            self.granted.append(Check(function, permission))

    def _error(self, message: str) -> None:
        self.errors.append(message)
        raise WrongCredentials(message)

    def take_denials(self) -> list[Check]:
        """The denials so far (and forget them: a test that expects them says so)."""
        taken, self.denials[:] = list(self.denials), []
        return taken


def _allowed(policies: list[Any], permission: Permission, context: dict[str, str]) -> bool:
    """moto's identity policy evaluation (an explicit Deny wins, else an Allow must match; every
    condition counts as met), then the same with the conditions evaluated (``_conditions_allow``)."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    allowed = False
    documents = []
    for policy in policies:
        evaluated = IAMPolicy(policy)
        documents.append(evaluated._policy_json)
        result = evaluated.is_action_permitted(permission.action, permission.resource)
        if result == PermissionResult.DENIED:
            return False
        allowed = allowed or result == PermissionResult.PERMITTED
    return allowed and _conditions_allow(documents, permission, context)


# Condition keys the check sets (or knows to be absent) for a request; a statement that applies
# to a request and names another key cannot be decided here.
KNOWN_CONDITION_KEYS = frozenset(
    {
        "aws:securetransport",
        "aws:principalarn",
        "aws:principalaccount",
        "aws:requestedregion",
        "s3:prefix",
        "kms:viaservice",
        "kms:calleraccount",
    }
)


def _request_context(principal_arn: str, account: str, region: str, permission: Permission) -> dict[str, str]:
    role = re.sub(r":sts::(\d+):assumed-role/([^/]+)/.*", r":iam::\1:role/\2", principal_arn)
    return {
        "aws:SecureTransport": "true",  # the SDK's endpoints are https
        "aws:PrincipalArn": role,
        "aws:PrincipalAccount": account,
        "aws:RequestedRegion": region,
        **dict(permission.context),
    }


def _conditions_allow(documents: list[dict[str, Any]], permission: Permission, context: dict[str, str]) -> bool:
    """principalmapper's identity policy simulation, with the request's condition keys (moto
    evaluates no condition): no Deny matches, and an Allow does."""
    _import_principalmapper()
    from principalmapper.querying.local_policy_simulation import policy_has_matching_statement
    from principalmapper.util.case_insensitive_dict import CaseInsensitiveDict

    for document in documents:
        statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
        for statement in statements:
            keys = {key.lower() for block in statement.get("Condition", {}).values() for key in block}
            unknown = keys - KNOWN_CONDITION_KEYS - {key.lower() for key, _ in permission.context}
            if unknown and policy_has_matching_statement(
                {"Statement": [{**statement, "Condition": {}}]},
                statement["Effect"],
                permission.action,
                permission.resource,
                CaseInsensitiveDict({}),
            ):
                raise UnmappedRequest(f"the condition keys {sorted(unknown)} of a statement for {permission}")
    keys = CaseInsensitiveDict(context)
    if any(
        policy_has_matching_statement(doc, "Deny", permission.action, permission.resource, keys) for doc in documents
    ):
        return False
    return any(
        policy_has_matching_statement(doc, "Allow", permission.action, permission.resource, keys) for doc in documents
    )


@cache
def _import_principalmapper() -> None:
    """principalmapper 1.1.5 imports collections.Mapping, gone since Python 3.10."""
    import collections
    import collections.abc

    collections.Mapping = collections.abc.Mapping  # type: ignore[attr-defined]
    collections.MutableMapping = collections.abc.MutableMapping  # type: ignore[attr-defined]


# ------------------------------------------------------------------ installing it
def current() -> IamHarness | None:
    return _installed


@contextmanager
def running(function: str) -> Iterator[None]:
    """``function``'s code runs as its role when a harness is installed (else: no change)."""
    if _installed is None:
        yield
        return
    with _installed.running(function):
        yield


# Where moto's Step Functions executor builds its clients (each module imports boto_client_for).
_EXECUTOR = "moto.stepfunctions.parser.asl.component.state.exec"
_EXECUTOR_CLIENTS = (
    "state_task.lambda_eval_utils",
    *(
        f"state_task.service.state_task_service_{name}"
        for name in ("aws_sdk", "batch", "dynamodb", "ecs", "events", "glue", "sfn", "sns", "sqs", "unsupported")
    ),
    "state_map.item_reader.eval.resource_eval_s3",
    "state_map.result_writer.resource_eval.resource_eval_s3",
)


@contextmanager
def enforced(session: boto3.Session, stack: MainStack, template: dict[str, Any]) -> Iterator[IamHarness]:
    """Create every function's role in the emulator and enforce the roles' policies."""
    global _installed
    from chalice import test as chalice_test
    from moto.core.authorization import ActionAuthenticatorMixin

    harness = IamHarness(stack, template, session)
    original_authorize = ActionAuthenticatorMixin._authenticate_and_authorize_action
    original_http = chalice_test.TestHTTPClient.request
    original_invoke = chalice_test.TestLambdaClient.invoke
    executor_modules = [importlib.import_module(f"{_EXECUTOR}.{name}") for name in _EXECUTOR_CLIENTS]
    original_clients = {module: module.boto_client_for for module in executor_modules}

    def authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        harness.authorize(self, iam_request_cls, resource)

    def http_request(self: Any, *args: Any, **kwargs: Any) -> Any:
        with harness.running("api_handler", self._config.chalice_stage):
            return original_http(self, *args, **kwargs)

    def invoke(self: Any, function_name: str, payload: Any = None) -> Any:
        with harness.running(function_name, self._config.chalice_stage):
            return original_invoke(self, function_name, payload)

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        if state_credentials is None:
            harness._error(f"moto's Step Functions executor called {service} without the state machine's role")
        config = Config(parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1})
        return harness.session_for_role(state_credentials.role_arn).client(service, region_name=region, config=config)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize  # type: ignore[method-assign]
    chalice_test.TestHTTPClient.request = http_request  # type: ignore[method-assign]
    chalice_test.TestLambdaClient.invoke = invoke  # type: ignore[method-assign]
    for module in executor_modules:
        module.boto_client_for = boto_client_for
    _installed = harness
    try:
        yield harness
    finally:
        _installed = None
        for module, original in original_clients.items():
            module.boto_client_for = original
        chalice_test.TestLambdaClient.invoke = original_invoke  # type: ignore[method-assign]
        chalice_test.TestHTTPClient.request = original_http  # type: ignore[method-assign]
        ActionAuthenticatorMixin._authenticate_and_authorize_action = original_authorize  # type: ignore[method-assign]
        clients.forget()
