"""The REST API with Chalice's test client and moto; tables come from the main template (infra/main/)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
import requests
from chalice.test import Client

from app import app
from chalicelib.api.auth import LOCAL_WEB_ORIGIN
from chalicelib.files.ids import new_file_id
from devstack.clamd import EICAR
from devstack.resources import MainStack
from tests.support.api import ADMIN, ALICE, BOB, Api, create, upload_via_presigned_post
from tests.support.pipeline import REGION, Pipeline

ROOT = Path(__file__).resolve().parents[2]


def test_health_needs_no_token(api: Api) -> None:
    response = api.call("GET", "/health", user=None)
    assert (response.status_code, response.json) == (200, {"status": "ok"})


def test_browsers_may_call_only_from_the_web_origin(api: Api) -> None:
    response = api.call("GET", "/files")
    assert response.headers["Access-Control-Allow-Origin"] == LOCAL_WEB_ORIGIN
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]


@pytest.mark.parametrize(("method", "path"), [("GET", "/me"), ("GET", "/files"), ("POST", "/files")])
def test_everything_else_needs_a_signed_in_learner(api: Api, method: str, path: str) -> None:
    response = api.call(method, path, user=None, body={"name": "a", "size": 1})
    assert response.status_code == 401
    assert response.json["code"] == "unauthenticated"


def test_profile_is_created_from_claims_then_editable(api: Api) -> None:
    first = api.call("GET", "/me")
    assert first.status_code == 200
    assert first.json["userSub"] == ALICE
    assert first.json["email"] == "alice@example.jp"
    assert (first.json["locale"], first.json["timeZone"]) == ("ja", "Asia/Tokyo")

    updated = api.call("PUT", "/me", body={"displayName": "山田 花子", "gradeLevel": "high-school"})
    assert updated.status_code == 200
    assert updated.json["displayName"] == "山田 花子"
    assert api.call("GET", "/me").json["gradeLevel"] == "high-school"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"displayName": ""}, "invalid_field"),
        ({"displayName": "x" * 51}, "invalid_field"),
        ({"displayName": "bell\x07"}, "invalid_field"),
        ({"locale": "fr"}, "invalid_field"),
        ({"timeZone": "Mars/Olympus"}, "invalid_field"),
        ({"isAdmin": True}, "unknown_field"),
        ({}, "missing_field"),
    ],
)
def test_profile_updates_are_validated(api: Api, body: dict[str, Any], code: str) -> None:
    response = api.call("PUT", "/me", body=body)
    assert response.status_code == 400
    assert response.json["code"] == code
    assert response.json["message"]


def test_upload_request_returns_a_pinned_presigned_post(api: Api, stack: MainStack) -> None:
    response = api.call("POST", "/files", body={"name": "宿題 1.pdf", "size": 11, "contentType": "application/pdf"})
    assert response.status_code == 201
    created = response.json
    file_id = created["file"]["id"]
    assert created["file"]["scanStatus"] == "PENDING_UPLOAD"
    fields = created["upload"]["fields"]
    assert fields["key"] == f"uploads/{ALICE}/{file_id}"
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert ["content-length-range", 11, 11] in policy["conditions"]
    assert {"Content-Type": "application/pdf"} in policy["conditions"]

    assert upload_via_presigned_post(created, b"hello world").status_code in (200, 204)
    head = boto3.client("s3", region_name=REGION).head_object(Bucket=stack.data_bucket, Key=fields["key"])
    assert head["ContentLength"] == 11


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "", "size": 1}, "invalid_field"),
        ({"name": "x" * 256, "size": 1}, "invalid_field"),
        ({"name": "../etc/passwd", "size": 1}, "invalid_field"),
        ({"name": "a\\b.txt", "size": 1}, "invalid_field"),
        ({"name": "tab\there", "size": 1}, "invalid_field"),
        ({"name": "rtl\u202egpj.exe", "size": 1}, "invalid_field"),
        ({"name": "a.txt", "size": -5}, "invalid_field"),
        ({"name": "a.txt", "size": 2 * 1024**3}, "too_large"),
        ({"name": "a.txt", "size": "12"}, "invalid_field"),
        ({"name": "a.txt", "size": True}, "invalid_field"),
        ({"name": 42, "size": 1}, "invalid_field"),
        ({"name": "a.txt", "size": 1, "contentType": "not a type"}, "invalid_field"),
        ({"name": "a.txt", "size": 1, "owner": "sub-bob"}, "unknown_field"),
        ({"name": "a.txt"}, "missing_field"),
    ],
)
def test_upload_requests_are_validated(api: Api, body: dict[str, Any], code: str) -> None:
    response = api.call("POST", "/files", body=body)
    assert response.status_code == 400, response.json
    assert response.json["code"] == code


@pytest.mark.parametrize("raw", ["{", "[]", '"name"', "null", "\xff"])
def test_malformed_json_is_a_clear_400(api: Api, raw: str) -> None:
    response = api.call("POST", "/files", raw=raw)
    assert response.status_code == 400
    assert response.json["code"] == "invalid_json"


def test_files_are_listed_newest_first_with_pagination(api: Api) -> None:
    ids = [create(api, f"file-{index}.txt") for index in range(5)]
    create(api, user=BOB)
    first = api.call("GET", "/files?limit=2")
    assert [item["id"] for item in first.json["files"]] == ids[::-1][:2]
    rest = api.call("GET", f"/files?limit=10&cursor={first.json['cursor']}")
    assert [item["id"] for item in rest.json["files"]] == ids[::-1][2:]
    assert api.call("GET", "/files?limit=0").json["code"] == "invalid_field"
    assert api.call("GET", "/files?cursor=garbage").json["code"] == "invalid_cursor"


def test_a_cursor_cannot_walk_into_another_learners_files(api: Api) -> None:
    create(api, user=BOB)
    create(api, user=BOB)
    bobs = api.call("GET", "/files?limit=1", user=BOB).json["cursor"]
    assert api.call("GET", f"/files?cursor={bobs}").json["code"] == "invalid_cursor"


def test_download_waits_for_the_scan(api: Api) -> None:
    file_id = create(api)
    response = api.call("GET", f"/files/{file_id}/download")
    assert response.status_code == 409
    assert response.json == {
        "code": "scan_pending",
        "message": f"file {file_id} is not scanned yet (PENDING_UPLOAD); try again shortly",
        "scanStatus": "PENDING_UPLOAD",
    }


@pytest.mark.parametrize("verdict", ["INFECTED", "UNSCANNABLE", "ERROR"])
def test_download_is_refused_unless_clean(api: Api, stack: MainStack, verdict: str) -> None:
    file_id = create(api)
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.files_table)
    table.update_item(
        Key={"ownerSub": ALICE, "fileId": file_id},
        UpdateExpression="SET scanStatus = :s, versionId = :v",
        ExpressionAttributeValues={":s": verdict, ":v": "v1"},
    )
    response = api.call("GET", f"/files/{file_id}/download")
    assert response.status_code == 403
    assert response.json["code"] == "file_not_clean"
    assert response.json["scanStatus"] == verdict


def test_another_learners_file_is_indistinguishable_from_a_missing_one(api: Api) -> None:
    bobs = create(api, user=BOB)
    missing = new_file_id()
    for method, suffix in [("GET", ""), ("GET", "/download"), ("DELETE", "")]:
        theirs = api.call(method, f"/files/{bobs}{suffix}")
        nothing = api.call(method, f"/files/{missing}{suffix}")
        assert theirs.status_code == nothing.status_code == 404
        assert theirs.json["code"] == nothing.json["code"] == "not_found"
    assert api.call("GET", "/files/not-an-id").status_code == 404
    assert api.call("GET", f"/files/{bobs}", user=BOB).status_code == 200


def test_admin_routes_need_the_admins_group(api: Api) -> None:
    for method, path in [
        ("GET", "/admin/files?status=INFECTED"),
        ("GET", "/admin/definitions"),
        ("POST", f"/admin/users/{ALICE}/files/{new_file_id()}/rescan"),
    ]:
        response = api.call(method, path, user=ALICE, groups=["teachers"])
        assert response.status_code == 403
        assert response.json["code"] == "admin_only"


def test_admin_sees_definitions_once_published(api: Api, aws: boto3.Session) -> None:
    s3 = aws.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="local-manabiplus-application", CreateBucketConfiguration={"LocationConstraint": REGION})
    response = api.call("GET", "/admin/definitions", user=ADMIN, groups=["admins"])
    assert (response.status_code, response.json["code"]) == (404, "definitions_not_published")
    manifest = {
        "version": "daily-27512",
        "built_at": "2026-11-29T03:00:00Z",
        "files": [{"name": "daily.cvd", "size": 1, "sha256": "0" * 64, "key": "clamav/daily-27512/daily.cvd"}],
        "source": "https://database.clamav.net",
        "published_at": "2026-11-29T03:05:00.000Z",
        "signatures": 2_076_500,
        "min_signatures": 1_868_850,
    }
    s3.put_object(Bucket="local-manabiplus-application", Key="clamav/manifest.json", Body=json.dumps(manifest))
    assert api.call("GET", "/admin/definitions", user=ADMIN, groups=["admins"]).json == manifest


def test_requests_that_bypass_cloudfront_are_refused_in_deployed_stages(
    aws: boto3.Session, stack: MainStack, tmp_path: Path
) -> None:
    secret = aws.client("secretsmanager", region_name=REGION).create_secret(
        Name="prod-manabiplus-origin-verify", SecretString="s" * 32
    )
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    config["stages"]["prod"]["environment_variables"]["ORIGIN_SECRET_ARN"] = secret["ARN"]
    (tmp_path / ".chalice").mkdir()
    (tmp_path / ".chalice" / "config.json").write_text(json.dumps(config))
    with Client(app, stage_name="prod", project_dir=str(tmp_path)) as client:
        bare = client.http.get("/health")
        wrong = client.http.get("/health", headers={"x-origin-verify": "t" * 32})
        right = client.http.get("/health", headers={"x-origin-verify": "s" * 32})
    assert bare.status_code == wrong.status_code == 403
    assert json.loads(bare.body)["code"] == "origin_forbidden"
    assert right.status_code == 200


class TestWithTheScanPipeline:
    """Upload → scan → download/delete, through the real state machine and clamd."""

    def upload(self, api: Api, pipeline: Pipeline, content: bytes) -> tuple[str, str]:
        created = api.call(
            "POST", "/files", body={"name": "課題.txt", "size": len(content), "contentType": "text/plain"}
        ).json
        assert upload_via_presigned_post(created, content).status_code in (200, 204)
        key = created["upload"]["fields"]["key"]
        versions = pipeline.s3.list_object_versions(Bucket=pipeline.stack.data_bucket, Prefix=key)["Versions"]
        pipeline.wait(pipeline.deliver(key, versions[0]["VersionId"], len(content)))
        return created["file"]["id"], versions[0]["VersionId"]

    def test_clean_file_downloads_the_scanned_version(self, api: Api, pipeline: Pipeline) -> None:
        file_id, version = self.upload(api, pipeline, b"clean homework")
        details = api.call("GET", f"/files/{file_id}").json
        assert details["scanStatus"] == "CLEAN"
        assert details["sha256"] and details["definitions"].startswith("manabi-offline-")
        download = api.call("GET", f"/files/{file_id}/download")
        assert download.status_code == 200
        query = parse_qs(urlparse(download.json["url"]).query)
        assert query["versionId"] == [version]
        assert "filename*=UTF-8''%E8%AA%B2%E9%A1%8C.txt" in query["response-content-disposition"][0]
        assert requests.get(download.json["url"], timeout=10).content == b"clean homework"

    def test_infected_file_is_refused_then_deleted_with_every_version(
        self, api: Api, pipeline: Pipeline, alerts: Any
    ) -> None:
        file_id, _ = self.upload(api, pipeline, EICAR)
        details = api.call("GET", f"/files/{file_id}").json
        assert (details["scanStatus"], details["signature"]) == ("INFECTED", "Manabi.Test.EICAR.UNOFFICIAL")
        refused = api.call("GET", f"/files/{file_id}/download")
        assert (refused.status_code, refused.json["code"]) == (403, "file_not_clean")

        rescan = api.call("POST", f"/admin/users/{ALICE}/files/{file_id}/rescan", user=ADMIN, groups=["admins"])
        assert (rescan.status_code, rescan.json["code"]) == (409, "verdict_final")
        listed = api.call("GET", "/admin/files?status=INFECTED", user=ADMIN, groups=["admins"]).json["files"]
        assert [(item["id"], item["owner"]) for item in listed] == [(file_id, ALICE)]

        assert api.call("DELETE", f"/files/{file_id}").status_code == 204
        key = f"uploads/{ALICE}/{file_id}"
        remaining = pipeline.s3.list_object_versions(Bucket=pipeline.stack.data_bucket, Prefix=key)
        assert remaining.get("Versions", []) == [] and remaining.get("DeleteMarkers", []) == []
        assert api.call("GET", f"/files/{file_id}").status_code == 404
        assert api.call("GET", "/files").json["files"] == []

    def test_admin_rescans_every_file_not_scanned_with_given_definitions(self, api: Api, pipeline: Pipeline) -> None:
        clean, _ = self.upload(api, pipeline, b"first")
        self.upload(api, pipeline, EICAR)
        current = api.call("GET", f"/files/{clean}").json["definitions"]
        admin = {"user": ADMIN, "groups": ["admins"]}
        none = api.call("POST", "/admin/rescans", body={"notScannedWith": current}, **admin)
        assert (none.status_code, none.json["started"]) == (202, 0)
        response = api.call("POST", "/admin/rescans", body={"notScannedWith": "daily-1"}, **admin)
        assert (response.status_code, response.json["started"]) == (202, 1)  # the INFECTED one is final
        assert api.call("POST", "/admin/rescans", body={"version": "x"}, **admin).json["code"] == "unknown_field"

    def test_admin_rescan_starts_a_new_scan_of_the_same_version(self, api: Api, pipeline: Pipeline) -> None:
        file_id, version = self.upload(api, pipeline, b"scan me again")
        response = api.call("POST", f"/admin/users/{ALICE}/files/{file_id}/rescan", user=ADMIN, groups=["admins"])
        assert response.status_code == 202
        execution = pipeline.wait(response.json["execution"])
        assert execution["status"] == "SUCCEEDED"
        assert json.loads(execution["input"])["versionId"] == version
        assert api.call("GET", f"/files/{file_id}").json["scanStatus"] == "CLEAN"
