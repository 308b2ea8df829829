"""IAM enforced in the functional tests (issue #11): every function's code runs as a moto role
holding exactly its policy from the packaged template (tests/support/iam.py). These tests show
that the roles are those policies, that each path is checked against its own role, and that a
missing permission or a wrong resource fails the path that needs it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from devstack.clamd import EICAR
from devstack.resources import MainStack
from infra.build import function_policies
from tests.infra.seed import packaged
from tests.support.iam import (
    PACKAGED_STAGE,
    Check,
    IamHarness,
    Permission,
    UnmappedRequest,
    WrongCredentials,
    restage,
)
from tests.support.pipeline import REGION, AlertInbox, Pipeline

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"


def without(action: str) -> Any:
    """A policy change: ``action`` taken out of every statement (a statement left empty goes)."""

    def change(document: dict[str, Any]) -> None:
        kept = []
        for statement in document["Statement"]:
            actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            remaining = [name for name in actions if name != action]
            if remaining:
                kept.append({**statement, "Action": remaining})
        assert len(kept) < len(document["Statement"]) or kept != document["Statement"], f"no {action} to remove"
        document["Statement"] = kept

    return change


# ------------------------------------------------------------------ the roles are the packaged policies
def test_each_function_runs_as_a_role_holding_exactly_its_packaged_policy(
    iam: IamHarness, aws: boto3.Session, stack: MainStack
) -> None:
    packaged_policies = function_policies(packaged(PACKAGED_STAGE))
    moto_iam = aws.client("iam")
    assert {role.logical_id for role in iam.roles.values()} == set(packaged_policies)
    for function, role in iam.roles.items():
        identity = iam.client(function, "sts").get_caller_identity()  # the role exists once needed
        assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.role_name}/{function}"
        expected = set(packaged_policies[role.logical_id]["policies"])
        expected |= {"aws-managed-" + arn.rsplit("/", 1)[-1] for arn in role.managed}
        assert set(moto_iam.list_role_policies(RoleName=role.role_name)["PolicyNames"]) == expected, function
        assert moto_iam.list_attached_role_policies(RoleName=role.role_name)["AttachedPolicies"] == []
        for name, document in role.policies.items():
            assert moto_iam.get_role_policy(RoleName=role.role_name, PolicyName=name)["PolicyDocument"] == document

    # The local stage's names throughout, resolved against the resources the tests created.
    assert "stag-" not in json.dumps({function: role.policies for function, role in iam.roles.items()})
    workflow = json.dumps(iam.roles["state_machine"].policies)
    for arn in (stack.context.attributes[("FilesTable", "Arn")], stack.alert_topic_arn, stack.scanner_function_arn):
        assert arn in workflow
    assert "arn:aws:s3:::local-manabiplus-data/*" in json.dumps(iam.roles["scanner"].policies)
    assert set(iam.roles["scanner"].managed) == {
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
    }


@pytest.mark.parametrize(
    ("function", "local_file"),
    [
        ("api_handler", "policy-local.json"),
        ("on_object_created", "policy-events-local.json"),
        ("update_definitions", "policy-definitions-local.json"),
        ("sweep_stuck_uploads", "policy-sweeper-local.json"),
        ("backup_data", "policy-backup-local.json"),
    ],
)
def test_the_chalice_policies_restaged_are_what_the_generator_writes_for_local(
    iam: IamHarness, stack: MainStack, function: str, local_file: str
) -> None:
    """Renaming the stag package's names to local gives the generator's local policy, but for
    the account (deployed stages name none: "*")."""
    ((document,),) = [list(iam.roles[function].policies.values())]
    generated = (ROOT / ".chalice" / local_file).read_text(encoding="utf-8").replace(f":{ACCOUNT}:", ":*:")
    assert document == json.loads(generated)


def test_restaging_renames_the_stage_prefix_and_nothing_else() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::stag-manabiplus-data/uploads/*"},
            {
                "Effect": "Allow",
                "Action": "dynamodb:Scan",
                "Resource": [
                    "arn:aws:dynamodb:ap-northeast-1:*:table/stag-manabiplus-file",  # a typo stays a typo
                    "arn:aws:dynamodb:ap-northeast-1:*:table/prod-manabiplus-files",  # another stage stays
                    "arn:aws:dynamodb:us-east-1:*:table/stag-manabiplus-files",  # the Region stays
                    "arn:aws:s3:::xstag-manabiplus-data",
                ],
            },
        ],
    }
    assert [statement["Resource"] for statement in restage(document, "local")["Statement"]] == [
        "arn:aws:s3:::local-manabiplus-data/uploads/*",
        [
            "arn:aws:dynamodb:ap-northeast-1:*:table/local-manabiplus-file",
            "arn:aws:dynamodb:ap-northeast-1:*:table/prod-manabiplus-files",
            "arn:aws:dynamodb:us-east-1:*:table/local-manabiplus-files",
            "arn:aws:s3:::xstag-manabiplus-data",
        ],
    ]
    with pytest.raises(ValueError, match="NotResource"):
        restage({"Statement": [{"Effect": "Allow", "Action": "s3:*", "NotResource": "*"}]}, "local")


# ------------------------------------------------------------------ each path is checked against its own role
def test_the_scan_path_is_checked_against_each_functions_role(
    pipeline: Pipeline, iam: IamHarness, stack: MainStack, alerts: AlertInbox
) -> None:
    key = "uploads/user-1/checked"
    _, execution = pipeline.upload(key, EICAR)
    assert execution["status"] == "SUCCEEDED"
    assert len(alerts.messages()) == 1
    data = f"arn:aws:s3:::{stack.data_bucket}/{key}"
    table = stack.context.attributes[("FilesTable", "Arn")]
    alert_key = stack.context.attributes[("AlertKey", "Arn")]
    expected = {
        Check("on_object_created", Permission("dynamodb:GetItem", table)),  # a deleted file's version is removed
        Check("on_object_created", Permission("states:StartExecution", stack.state_machine_arn)),
        Check("state_machine", Permission("s3:PutObjectTagging", data)),  # MarkPending, Lock
        Check("state_machine", Permission("s3:PutObjectVersionTagging", data)),  # (with a versionId)
        Check("state_machine", Permission("dynamodb:UpdateItem", table)),  # RecordPending, RecordVerdict
        Check("state_machine", Permission("lambda:InvokeFunction", stack.scanner_function_arn)),
        Check("scanner", Permission("s3:GetObjectVersion", data)),
        Check("state_machine", Permission("sns:Publish", stack.alert_topic_arn)),  # AlertInfected
        Check("state_machine", Permission("kms:GenerateDataKey", alert_key)),  # the topic's key
        Check("state_machine", Permission("kms:Decrypt", alert_key)),
    }
    assert set(iam.granted) == expected


# ------------------------------------------------------------------ a missing permission fails its path
def test_without_states_start_execution_an_upload_event_is_denied(pipeline: Pipeline, iam: IamHarness) -> None:
    iam.change_policy("on_object_created", without("states:StartExecution"))
    key = "uploads/user-1/never-scanned"
    pipeline.register(key)
    version = pipeline.put(key, b"homework")
    with pytest.raises(ClientError) as denied:
        pipeline.deliver(key, version)
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "states:StartExecution" in str(denied.value)
    assert iam.take_denials() == [
        Check("on_object_created", Permission("states:StartExecution", pipeline.stack.state_machine_arn))
    ]
    assert pipeline.sfn.list_executions(stateMachineArn=pipeline.stack.state_machine_arn)["executions"] == []


def test_without_dynamodb_update_item_the_workflow_cannot_record_and_the_upload_stays_locked(
    pipeline: Pipeline, iam: IamHarness, stack: MainStack, alerts: AlertInbox
) -> None:
    iam.change_policy("state_machine", without("dynamodb:UpdateItem"))
    key = "uploads/user-1/unrecorded"
    version, execution = pipeline.upload(key, b"clean, but no record can say so")
    assert (execution["status"], execution["error"]) == ("FAILED", "ScanFailed")
    assert pipeline.tags(key, version)["scan-status"] == "ERROR"
    assert pipeline.record_of(key)["scanStatus"] == "PENDING_UPLOAD"
    assert ["scan failed" in message["Subject"] for message in alerts.messages()] == [True]
    table = stack.context.attributes[("FilesTable", "Arn")]
    denied = Check("state_machine", Permission("dynamodb:UpdateItem", table))
    assert iam.take_denials() == [denied, denied]  # RecordPending, RecordError


def test_without_s3_get_object_version_the_scanner_cannot_read_and_nothing_is_released(
    pipeline: Pipeline, iam: IamHarness, stack: MainStack
) -> None:
    iam.change_policy("scanner", without("s3:GetObjectVersion"))
    key = "uploads/user-1/unread"
    version, execution = pipeline.upload(key, b"nobody read me")
    assert execution["status"] == "FAILED"
    assert pipeline.tags(key, version)["scan-status"] == "ERROR"
    assert "AccessDenied" in pipeline.record_of(key)["scanError"]
    data = f"arn:aws:s3:::{stack.data_bucket}/{key}"
    assert iam.take_denials() == [Check("scanner", Permission("s3:GetObjectVersion", data))]


@pytest.mark.parametrize("action", ["s3:PutObjectTagging", "s3:PutObjectVersionTagging"])
def test_tagging_a_version_needs_both_tagging_actions(
    pipeline: Pipeline, iam: IamHarness, stack: MainStack, action: str
) -> None:
    """What MarkPending, Release, Lock and TagError call (each retried for 7 s when denied, so
    here the call itself): S3's API reference asks for s3:PutObjectTagging, "also" for
    s3:PutObjectVersionTagging with a versionId."""
    key = "uploads/user-1/tagged"
    version = pipeline.put(key, b"x")
    iam.change_policy("state_machine", without(action))
    tagging = {"TagSet": [{"Key": "scan-status", "Value": "PENDING"}]}
    with pytest.raises(ClientError, match="AccessDenied"):
        iam.client("state_machine", "s3").put_object_tagging(
            Bucket=stack.data_bucket, Key=key, VersionId=version, Tagging=tagging
        )
    assert iam.take_denials() == [Check("state_machine", Permission(action, f"arn:aws:s3:::{stack.data_bucket}/{key}"))]
    assert pipeline.tags(key, version) == {}


def _api_call(pipeline: Pipeline, method: str, path: str, groups: list[str] | None = None, body: Any = None) -> Any:
    from tests.support.api import token

    headers = {"Authorization": token("sub-alice", groups), "Content-Type": "application/json"}
    payload = json.dumps(body) if body is not None else None
    return getattr(pipeline.chalice.http, method.lower())(path, headers=headers, body=payload)


def test_a_wrong_resource_in_the_packaged_template_fails_too(pipeline: Pipeline, iam: IamHarness) -> None:
    """A typo in a table ARN of the packaged stag template stays a typo in the local stage."""
    template = copy.deepcopy(packaged(PACKAGED_STAGE))
    role = template["Resources"]["ApiHandlerRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    records = next(statement for statement in role["Statement"] if statement.get("Sid") == "Records")
    records["Resource"] = [arn.replace("-profiles", "-profile") for arn in records["Resource"]]
    iam.use_template(template)
    assert _api_call(pipeline, "GET", "/me").status_code == 500
    profiles = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/local-manabiplus-profiles"
    assert iam.take_denials() == [Check("api_handler", Permission("dynamodb:GetItem", profiles))]


def test_a_delete_s3_refused_leaves_the_file_and_its_record(pipeline: Pipeline, iam: IamHarness) -> None:
    """DeleteObjects answers 200 and lists what it refused: the API must not report the file
    deleted (nor mark its record) while its versions stay."""
    from tests.support.api import upload_via_presigned_post

    created = _api_call(pipeline, "POST", "/files", body={"name": "a.txt", "size": 5, "contentType": "text/plain"})
    assert upload_via_presigned_post(created.json_body, b"hello").status_code in (200, 204)
    file_id, key = created.json_body["file"]["id"], created.json_body["upload"]["fields"]["key"]
    iam.change_policy("api_handler", without("s3:DeleteObjectVersion"))

    assert _api_call(pipeline, "DELETE", f"/files/{file_id}").status_code == 500
    (denied,) = iam.take_denials()
    assert denied.permission.action == "s3:DeleteObjectVersion"
    assert denied.permission.resource == f"arn:aws:s3:::{pipeline.stack.data_bucket}/{key}"
    assert pipeline.s3.list_object_versions(Bucket=pipeline.stack.data_bucket, Prefix=key)["Versions"]
    assert _api_call(pipeline, "GET", f"/files/{file_id}").status_code == 200


def test_a_missing_key_is_403_without_s3_list_bucket_as_on_aws(
    pipeline: Pipeline, iam: IamHarness, app_bucket: str
) -> None:
    """S3 answers 404 for a missing key only to a caller that may list the bucket; moto always
    answers 404, the IAM check answers 403 as S3 does."""
    admin = ["admins"]
    assert _api_call(pipeline, "GET", "/admin/definitions", admin).status_code == 404  # not published yet
    assert iam.take_denials() == []
    iam.change_policy("api_handler", without("s3:ListBucket"))
    assert _api_call(pipeline, "GET", "/admin/definitions", admin).status_code == 500
    assert iam.take_denials() == [Check("api_handler", Permission("s3:ListBucket", f"arn:aws:s3:::{app_bucket}"))]


# ------------------------------------------------------------------ calls outside a function's role
def test_a_function_calling_with_the_test_credentials_or_another_role_is_an_error(
    iam: IamHarness, aws: boto3.Session
) -> None:
    with iam.running("on_object_created"), pytest.raises(WrongCredentials, match="test setup's credentials"):
        aws.client("s3", region_name=REGION).list_buckets()
    scanners = iam.client("scanner", "s3")
    with iam.running("api_handler"), pytest.raises(WrongCredentials, match="with scanner's credentials"):
        scanners.list_buckets()
    assert len(iam.errors) == 2
    iam.errors.clear()


def test_a_call_the_check_cannot_name_fails_closed(iam: IamHarness, stack: MainStack) -> None:
    with pytest.raises(UnmappedRequest, match="sqs:ListQueues"):
        iam.client("sweep_stuck_uploads", "sqs").list_queues()
    assert iam.errors == [
        "sweep_stuck_uploads: the IAM check does not know what sqs:ListQueues needs (tests/support/iam.py)"
    ]
    iam.errors.clear()


def test_every_client_of_motos_step_functions_executor_signs_as_the_state_machine() -> None:
    """``enforced`` replaces boto_client_for where the executor imported it: all of them."""
    import moto.stepfunctions.parser as parser

    from tests.support.iam import _EXECUTOR, _EXECUTOR_CLIENTS

    root = Path(parser.__file__).parent / "asl" / "component" / "state" / "exec"
    importing = {
        ".".join(path.relative_to(root).with_suffix("").parts)
        for path in root.rglob("*.py")
        if "import boto_client_for" in path.read_text(encoding="utf-8")
    }
    assert importing == set(_EXECUTOR_CLIENTS)
    assert _EXECUTOR == "moto.stepfunctions.parser.asl.component.state.exec"


# ------------------------------------------------------------------ conditions, where the check knows the keys
def test_the_s3_prefix_condition_is_evaluated(iam: IamHarness, stack: MainStack) -> None:
    """The sweeper and the API may list versions only under uploads/ (moto ignores conditions)."""
    s3 = iam.client("sweep_stuck_uploads", "s3")
    s3.list_object_versions(Bucket=stack.data_bucket, Prefix="uploads/user-1/file")
    for arguments in ({"Prefix": "other/"}, {}):  # no prefix: the condition key is absent
        with pytest.raises(ClientError, match="AccessDenied"):
            s3.list_object_versions(Bucket=stack.data_bucket, **arguments)
    bucket = f"arn:aws:s3:::{stack.data_bucket}"
    assert iam.take_denials() == [Check("sweep_stuck_uploads", Permission("s3:ListBucketVersions", bucket))] * 2


def test_the_kms_via_service_condition_is_evaluated(iam: IamHarness, stack: MainStack) -> None:
    """The updater may use the alert key only through SNS in this Region."""
    sns = iam.client("update_definitions", "sns")
    sns.publish(TopicArn=stack.alert_topic_arn, Subject="s", Message="through SNS, in ap-northeast-1")

    def elsewhere(document: dict[str, Any]) -> None:
        (statement,) = [item for item in document["Statement"] if item.get("Sid") == "EncryptAlerts"]
        statement["Condition"]["StringEquals"]["kms:ViaService"] = "sns.us-east-1.amazonaws.com"

    iam.change_policy("update_definitions", elsewhere)
    with pytest.raises(ClientError, match="AccessDenied"):
        sns.publish(TopicArn=stack.alert_topic_arn, Subject="s", Message="denied")
    key = stack.context.attributes[("AlertKey", "Arn")]
    assert iam.take_denials() == [Check("update_definitions", Permission("kms:GenerateDataKey", key))]


def test_a_condition_on_a_key_the_check_does_not_know_fails_closed(iam: IamHarness, stack: MainStack) -> None:
    def from_the_office(document: dict[str, Any]) -> None:
        (statement,) = [item for item in document["Statement"] if item.get("Sid") == "StartScans"]
        statement["Condition"] = {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}

    iam.change_policy("on_object_created", from_the_office)
    with pytest.raises(UnmappedRequest, match="aws:sourceip"):
        iam.client("on_object_created", "stepfunctions").start_execution(
            stateMachineArn=stack.state_machine_arn, name="n", input="{}"
        )
    assert len(iam.errors) == 1 and "cannot decide" in iam.errors[0]
    iam.errors.clear()
