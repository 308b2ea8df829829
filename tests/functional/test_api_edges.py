"""Bad input gets a clear 4xx, never a 500 (issue #13): nesting depth, strict types, ASCII
digits, cursors this API did not hand out, misconfiguration, and empty files."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import boto3
from chalice.test import Client

from app import app
from chalicelib.files.ids import new_file_id
from devstack.resources import MainStack
from tests.support.api import ADMIN, ALICE, BOB, Api, create, token, upload_via_presigned_post
from tests.support.pipeline import REGION

ROOT = Path(__file__).resolve().parents[2]
ADMINS = {"user": ADMIN, "groups": ["admins"]}
NESTED = "[" * 990 + "]" * 990


def cursor_of(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def test_deeply_nested_json_is_a_clear_400(api: Api) -> None:
    for method, path, who in [("POST", "/files", {}), ("PUT", "/me", {}), ("POST", "/admin/rescans", ADMINS)]:
        for raw in [NESTED, '{"name": ' + NESTED + "}", "{" * 5000]:
            response = api.call(method, path, raw=raw, **who)
            assert (response.status_code, response.json["code"]) == (400, "invalid_json"), (path, raw[:20])
            assert "levels deep" in response.json["message"]


def test_profile_fields_of_the_wrong_type_are_invalid(api: Api) -> None:
    for body in [
        {"timeZone": []},
        {"timeZone": {}},
        {"timeZone": 9},
        {"locale": []},
        {"locale": {"ja": 1}},
        {"gradeLevel": {}},
        {"gradeLevel": ["other"]},
        {"displayName": ["花子"]},
    ]:
        response = api.call("PUT", "/me", body=body)
        assert (response.status_code, response.json["code"]) == (400, "invalid_field"), body
        assert response.json["field"] == next(iter(body))


def test_limit_takes_ascii_digits_only(api: Api) -> None:
    for limit in ["²", "５", "٣", "+5", "%205", "5%20", "5.0", "0x10", "", "1" * 400]:
        for path, who in [("/files?", {}), ("/admin/files?status=CLEAN&", ADMINS)]:
            response = api.call("GET", f"{path}limit={limit}", **who)
            assert (response.status_code, response.json["code"]) == (400, "invalid_field"), (path, limit)
            assert response.json["field"] == "limit"
    assert api.call("GET", "/files?limit=05").status_code == 200


FORGED = [
    {"ownerSub": ALICE},
    {"fileId": "01KB0ZJ6N8Q3D1V4Y6M0S2T9RX"},
    {"ownerSub": ALICE, "fileId": 1.5},
    {"ownerSub": ALICE, "fileId": 7},
    {"ownerSub": ALICE, "fileId": None},
    {"ownerSub": ALICE, "fileId": {"S": "01KB0ZJ6N8Q3D1V4Y6M0S2T9RX"}},
    {"ownerSub": ALICE, "fileId": "not-an-id"},
    {"ownerSub": ALICE, "fileId": "01KB0ZJ6N8Q3D1V4Y6M0S2T9RX", "scanStatus": "CLEAN"},
    {"ownerSub": [ALICE], "fileId": "01KB0ZJ6N8Q3D1V4Y6M0S2T9RX"},
    ["ownerSub", "fileId"],
]


def test_forged_cursors_are_invalid(api: Api) -> None:
    others = [
        base64.urlsafe_b64encode(NESTED.encode()).decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "%E3%81%82",
        "A" * 5000,
    ]
    for cursor in [cursor_of(key) for key in FORGED] + others:
        for path, who in [("/files?", {}), ("/admin/files?status=CLEAN&", ADMINS)]:
            response = api.call("GET", f"{path}cursor={cursor}", **who)
            assert (response.status_code, response.json["code"]) == (400, "invalid_cursor"), (path, cursor[:60])


def test_a_cursor_the_api_returned_still_works(api: Api) -> None:
    ids = [create(api, f"{index}.txt") for index in range(3)]
    first = api.call("GET", "/files?limit=2").json
    rest = api.call("GET", f"/files?limit=2&cursor={first['cursor']}").json
    assert [item["id"] for item in first["files"] + rest["files"]] == ids[::-1]


def test_content_type_must_match_in_full(api: Api) -> None:
    for content_type in ["text/plain\n", "text/plain\r\n", "text/plain\x00", "text/plain; x=1"]:
        response = api.call("POST", "/files", body={"name": "a.txt", "size": 1, "contentType": content_type})
        assert (response.status_code, response.json["code"]) == (400, "invalid_field"), content_type
        assert response.json["field"] == "contentType"


def test_an_owner_that_cannot_be_a_user_sub_is_not_found(api: Api) -> None:
    for owner in ["x" * 3000, "a%20b", "%00"]:
        response = api.call("POST", f"/admin/users/{owner}/files/{new_file_id()}/rescan", **ADMINS)
        assert (response.status_code, response.json["code"]) == (404, "not_found"), owner


def test_misconfiguration_answers_in_the_api_error_shape(tmp_path: Path, aws: boto3.Session, stack: MainStack) -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    del config["stages"]["local"]["environment_variables"]["DATA_BUCKET"]
    (tmp_path / ".chalice").mkdir()
    (tmp_path / ".chalice" / "config.json").write_text(json.dumps(config))
    with Client(app, stage_name="local", project_dir=str(tmp_path)) as client:
        response = client.http.get("/files", headers={"Authorization": token(ALICE)})
    assert response.status_code == 500
    body = json.loads(response.body)
    assert set(body) == {"code", "message"} and body["code"] == "internal_error"
    assert "DATA_BUCKET" not in body["message"], "configuration details stay in the log"


def test_empty_files_are_accepted_and_pinned_to_zero_bytes(api: Api, stack: MainStack) -> None:
    response = api.call("POST", "/files", body={"name": "empty.txt", "size": 0, "contentType": "text/plain"})
    assert response.status_code == 201, response.json
    policy = json.loads(base64.b64decode(response.json["upload"]["fields"]["policy"]))
    assert ["content-length-range", 0, 0] in policy["conditions"]
    assert upload_via_presigned_post(response.json, b"").status_code in (200, 204)
    key = response.json["upload"]["fields"]["key"]
    head = boto3.client("s3", region_name=REGION).head_object(Bucket=stack.data_bucket, Key=key)
    assert head["ContentLength"] == 0


def test_a_page_holds_limit_files_however_many_were_deleted(api: Api) -> None:
    kept = [create(api, f"kept-{index}.txt") for index in range(3)]
    for index in range(4):
        assert api.call("DELETE", f"/files/{create(api, f'gone-{index}.txt')}").status_code == 204
    create(api, user=BOB)
    first = api.call("GET", "/files?limit=2").json
    assert [item["id"] for item in first["files"]] == kept[::-1][:2]
    rest = api.call("GET", f"/files?limit=2&cursor={first['cursor']}").json
    assert [item["id"] for item in rest["files"]] == kept[::-1][2:]
    assert rest["cursor"] is None


def test_an_admin_page_holds_limit_files_of_the_status(api: Api, stack: MainStack) -> None:
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.files_table)
    infected = []
    for index in range(12):
        file_id = create(api, f"{index}.txt")
        if index % 4 == 0:
            table.update_item(
                Key={"ownerSub": ALICE, "fileId": file_id},
                UpdateExpression="SET scanStatus = :s",
                ExpressionAttributeValues={":s": "INFECTED"},
            )
            infected.append(file_id)
    first = api.call("GET", "/admin/files?status=INFECTED&limit=2", **ADMINS).json
    assert len(first["files"]) == 2
    rest = api.call("GET", f"/admin/files?status=INFECTED&limit=2&cursor={first['cursor']}", **ADMINS).json
    assert sorted(item["id"] for item in first["files"] + rest["files"]) == sorted(infected)
