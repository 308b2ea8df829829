"""The learner's profile (就学者): created from the token's claims on first use."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from chalicelib import validation
from chalicelib.errors import InvalidRequestError
from chalicelib.files import utc_now

LOCALES = ("ja", "en")
GRADE_LEVELS = (
    "elementary",
    "junior-high",
    "high-school",
    "university",
    "graduate",
    "working-adult",
    "other",
)
EDITABLE = {"displayName", "locale", "timeZone", "gradeLevel"}
_TIME_ZONES = frozenset(available_timezones())


def public_profile(item: dict[str, Any]) -> dict[str, Any]:
    return {
        name: item.get(name)
        for name in ("userSub", "email", "displayName", "locale", "timeZone", "gradeLevel", "createdAt", "updatedAt")
    }


class ProfileService:
    def __init__(self, table: Any) -> None:
        self._table = table

    def get_or_create(self, user_sub: str, email: str | None, username: str | None) -> dict[str, Any]:
        item = self._table.get_item(Key={"userSub": user_sub}, ConsistentRead=True).get("Item")
        if item is not None:
            return public_profile(item)
        now = utc_now()
        item = {
            "userSub": user_sub,
            "email": email,
            "displayName": (username or (email or "").split("@")[0] or "learner")[:50],
            "locale": "ja",
            "timeZone": "Asia/Tokyo",
            "gradeLevel": None,
            "createdAt": now,
            "updatedAt": now,
        }
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(userSub)")
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            item = self._table.get_item(Key={"userSub": user_sub}, ConsistentRead=True)["Item"]
        return public_profile(item)

    def update(self, user_sub: str, email: str | None, username: str | None, raw_body: Any) -> dict[str, Any]:
        body = validation.json_object(raw_body, allowed=EDITABLE, required=set())
        if not body:
            raise InvalidRequestError(
                "nothing to update: send at least one of " + ", ".join(sorted(EDITABLE)), code="missing_field"
            )
        changes: dict[str, Any] = {}
        if "displayName" in body:
            changes["displayName"] = validation.text(body, "displayName", max_length=50)
        if "locale" in body:
            changes["locale"] = validation.choice(body, "locale", LOCALES)
        if "timeZone" in body:
            if body["timeZone"] not in _TIME_ZONES:
                raise InvalidRequestError(
                    "timeZone: must be an IANA time zone such as Asia/Tokyo", code="invalid_field", field="timeZone"
                )
            changes["timeZone"] = body["timeZone"]
        if "gradeLevel" in body:
            changes["gradeLevel"] = (
                None if body["gradeLevel"] is None else validation.choice(body, "gradeLevel", GRADE_LEVELS)
            )
        self.get_or_create(user_sub, email, username)
        changes["updatedAt"] = utc_now()
        names = {f"#{name}": name for name in changes}
        values = {f":{name}": value for name, value in changes.items()}
        item = self._table.update_item(
            Key={"userSub": user_sub},
            UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in changes),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )["Attributes"]
        return public_profile(item)
