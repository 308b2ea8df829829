"""The learner's profile (就学者): created from the token's claims on first use, and updated."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from chalicelib.timestamps import now

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
TIME_ZONES = frozenset(available_timezones())


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
        created = now()
        item = {
            "userSub": user_sub,
            "email": email,
            "displayName": (username or (email or "").split("@")[0] or "learner")[:50],
            "locale": "ja",
            "timeZone": "Asia/Tokyo",
            "gradeLevel": None,
            "createdAt": created,
            "updatedAt": created,
        }
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(userSub)")
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            item = self._table.get_item(Key={"userSub": user_sub}, ConsistentRead=True)["Item"]
        return public_profile(item)

    def update(self, user_sub: str, email: str | None, username: str | None, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply already validated changes (``api.validation.profile_changes``)."""
        changes = dict(changes)
        self.get_or_create(user_sub, email, username)
        changes["updatedAt"] = now()
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
