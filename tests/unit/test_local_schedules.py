"""The local stack's scheduler: EventBridge schedule expressions, and the app's own schedules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devstack.schedules import ScheduleError, next_run, scheduled_event

NOW = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(15 minutes)", NOW + timedelta(minutes=15)),
        ("rate(1 minute)", NOW + timedelta(minutes=1)),
        ("rate(1 day)", NOW + timedelta(days=1)),
        ("rate(12 hours)", NOW + timedelta(hours=12)),
        ("cron(0 18 * * ? *)", datetime(2026, 12, 2, 18, 0, tzinfo=UTC)),
        ("cron(30 21 ? * MON-FRI *)", datetime(2026, 12, 1, 21, 30, tzinfo=UTC)),
    ],
)
def test_eventbridge_expressions(expression: str, expected: datetime) -> None:
    assert next_run(expression, NOW) == expected


@pytest.mark.parametrize("expression", ["cron(0 18 * * 1 *)", "cron(0 18 * *)", "every day"])
def test_expressions_it_cannot_run_say_so(expression: str) -> None:
    with pytest.raises(ScheduleError):
        next_run(expression, NOW)


def test_every_schedule_of_the_app_can_run_locally() -> None:
    from chalice.app import ScheduledEventConfig

    from app import app

    schedules = [source for source in app.event_sources if isinstance(source, ScheduledEventConfig)]
    assert {source.name for source in schedules} >= {"sweep_stuck_uploads", "update_definitions", "backup_data"}
    for source in schedules:
        assert next_run(str(source.schedule_expression), NOW) > NOW


def test_the_event_is_the_one_eventbridge_sends() -> None:
    event = scheduled_event("sweep_stuck_uploads", NOW)
    assert (event["source"], event["detail-type"], event["time"]) == (
        "aws.events",
        "Scheduled Event",
        "2026-12-01T20:00:00Z",
    )
    assert event["resources"][0].endswith("rule/local-manabiplus-sweep_stuck_uploads")
