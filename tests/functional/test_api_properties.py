"""Property: whatever a signed-in learner or operator sends — generated bodies, query strings,
cursors and path parameters — no route answers 500 (issue #13).

Hypothesis runs derandomized (a fixed seed: the same examples on every run and in CI) with a
few hundred examples per route, through Chalice's test client on the local stage's resources in
moto, created from the main template like every functional test.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import boto3
import pytest
from chalice.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from app import app
from chalicelib import wiring
from chalicelib.files.ids import new_file_id
from devstack.lambda_bridge import MOTO_CONFIG
from devstack.resources import create_bucket, create_main_stack
from tests.support.api import ADMIN, ALICE, BOB, Api, create
from tests.support.pipeline import REGION

EXAMPLES = 300
PROPERTY = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- what is generated ------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
)
nested = st.integers(min_value=1, max_value=3000).flatmap(
    lambda depth: st.sampled_from(["[", '{"a":', '[{"b":']).map(lambda opener: opener * depth)
)


def documents(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[str | bytes]:
    """Request bodies: objects with the route's own fields (so validation gets past the field
    names), any JSON, deep nesting, text and bytes that are not JSON at all."""
    objects = st.fixed_dictionaries({}, optional={name: strategy | json_values for name, strategy in fields.items()})
    extra = st.dictionaries(st.text(max_size=12), json_values, max_size=3)
    return st.one_of(
        objects.map(json.dumps),
        st.tuples(objects, extra).map(lambda parts: json.dumps({**parts[1], **parts[0]})),
        json_values.map(json.dumps),
        nested,
        st.text(max_size=200),
        st.binary(max_size=200),
    )


crockford = st.text(alphabet="0123456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=26, max_size=26)
cursor_keys = st.fixed_dictionaries(
    {}, optional={"ownerSub": st.sampled_from([ALICE, BOB]) | json_values, "fileId": crockford | json_values}
)
cursors = st.one_of(
    st.text(max_size=80),
    st.tuples(cursor_keys, st.dictionaries(st.text(max_size=8), json_values, max_size=2)).map(
        lambda parts: base64.urlsafe_b64encode(json.dumps({**parts[1], **parts[0]}).encode()).decode()
    ),
    st.binary(max_size=80).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
    nested.map(lambda text: base64.urlsafe_b64encode(text.encode()).decode()),
)
limits = st.one_of(st.integers(min_value=-5, max_value=1000).map(str), st.text(max_size=6))
statuses = st.sampled_from(["PENDING_UPLOAD", "PENDING", "CLEAN", "INFECTED", "UNSCANNABLE", "ERROR"]) | st.text(
    max_size=12
)
queries = st.fixed_dictionaries(
    {},
    optional={"limit": limits, "cursor": cursors, "status": statuses, "other": st.text(max_size=8)},
).map(urlencode)
path_texts = st.text(min_size=1, max_size=60).map(lambda text: quote(text, safe=""))
file_ids = st.one_of(crockford, path_texts, st.just(new_file_id()))
owners = st.one_of(st.sampled_from([ALICE, BOB, ADMIN]), path_texts)
callers = st.sampled_from([{"user": ALICE}, {"user": ADMIN, "groups": ["admins"]}])

# -- the API, once per module: moto, the main template's resources, a few files ----------------


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[Api, list[str]]]:
    with mock_aws(config=MOTO_CONFIG):  # type: ignore[arg-type]
        session = boto3.Session(region_name=REGION)
        stack = create_main_stack(session, stage="local", region=REGION)
        create_bucket(session.client("s3", region_name=REGION), stack.context, "AppBucket")
        wiring.reset()
        with Client(app, stage_name="local") as client:
            api = Api(client)
            ids = [create(api, f"seed-{index}.txt") for index in range(3)]
            # One judged file: INFECTED is final, so no generated rescan starts a scan here.
            table = session.resource("dynamodb", region_name=REGION).Table(stack.files_table)
            table.update_item(
                Key={"ownerSub": ALICE, "fileId": ids[0]},
                UpdateExpression="SET scanStatus = :infected, versionId = :version",
                ExpressionAttributeValues={":infected": "INFECTED", ":version": "v1"},
            )
            yield api, ids
        wiring.reset()


def known_or_generated(ids: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(ids) | file_ids


def no_500(api: Api, method: str, path: str, who: dict[str, Any], raw: str | bytes | None = None) -> None:
    response = api.call(method, path, raw=raw, **who)
    assert response.status_code < 500, (method, path, raw if raw is None else raw[:200], response.json)
    assert isinstance(response.json, dict) or response.status_code == 204
    if response.status_code >= 400:
        assert set(response.json) >= {"code", "message"}, response.json


# -- one property per route --------------------------------------------------------------------


@PROPERTY
@given(data=st.data())
def test_get_me(seeded: tuple[Api, list[str]], data: st.DataObject) -> None:
    no_500(seeded[0], "GET", f"/me?{data.draw(queries)}", data.draw(callers))


@PROPERTY
@given(body=documents({"displayName": st.text(), "locale": st.text(), "timeZone": st.text(), "gradeLevel": st.text()}))
def test_put_me(seeded: tuple[Api, list[str]], body: str | bytes) -> None:
    no_500(seeded[0], "PUT", "/me", {"user": ALICE}, raw=body)


@PROPERTY
@given(body=documents({"name": st.text(), "size": st.integers(), "contentType": st.text()}))
def test_post_files(seeded: tuple[Api, list[str]], body: str | bytes) -> None:
    no_500(seeded[0], "POST", "/files", {"user": ALICE}, raw=body)


@PROPERTY
@given(query=queries, who=callers)
def test_get_files(seeded: tuple[Api, list[str]], query: str, who: dict[str, Any]) -> None:
    no_500(seeded[0], "GET", f"/files?{query}", who)


@PROPERTY
@given(data=st.data())
def test_get_file(seeded: tuple[Api, list[str]], data: st.DataObject) -> None:
    api, ids = seeded
    no_500(api, "GET", f"/files/{data.draw(known_or_generated(ids))}?{data.draw(queries)}", data.draw(callers))


@PROPERTY
@given(data=st.data())
def test_download_file(seeded: tuple[Api, list[str]], data: st.DataObject) -> None:
    api, ids = seeded
    no_500(api, "GET", f"/files/{data.draw(known_or_generated(ids))}/download", data.draw(callers))


@PROPERTY
@given(data=st.data())
def test_delete_file(seeded: tuple[Api, list[str]], data: st.DataObject) -> None:
    api, ids = seeded
    no_500(api, "DELETE", f"/files/{data.draw(known_or_generated(ids))}", data.draw(callers))


@PROPERTY
@given(query=queries, who=callers)
def test_admin_files(seeded: tuple[Api, list[str]], query: str, who: dict[str, Any]) -> None:
    no_500(seeded[0], "GET", f"/admin/files?{query}", who)


@PROPERTY
@given(data=st.data())
def test_admin_rescan_one(seeded: tuple[Api, list[str]], data: st.DataObject) -> None:
    api, ids = seeded
    path = f"/admin/users/{data.draw(owners)}/files/{data.draw(known_or_generated(ids))}/rescan"
    no_500(api, "POST", path, data.draw(callers), raw=data.draw(documents({}) | st.none()))


@PROPERTY
@given(body=documents({"notScannedWith": st.text()}), who=callers)
def test_admin_rescan_all(seeded: tuple[Api, list[str]], body: str | bytes, who: dict[str, Any]) -> None:
    no_500(seeded[0], "POST", "/admin/rescans", who, raw=body)


@PROPERTY
@given(query=queries, who=callers)
def test_admin_definitions(seeded: tuple[Api, list[str]], query: str, who: dict[str, Any]) -> None:
    no_500(seeded[0], "GET", f"/admin/definitions?{query}", who)


@PROPERTY
@given(query=queries)
def test_health(seeded: tuple[Api, list[str]], query: str) -> None:
    no_500(seeded[0], "GET", f"/health?{query}", {"user": None})
