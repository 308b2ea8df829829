"""The app's scheduled functions, run by the local stack on their own schedules.

On AWS, EventBridge rules invoke each ``@app.schedule`` function (the sweeper and its automatic
rescans, the definitions update, the backup). Locally this scheduler does the same from a
background thread, reading the schedules from the Chalice app itself, so local behaves as
deployed. ``rate(…)`` and ``cron(…)`` expressions are EventBridge's; cron's day-of-week must be
``?``, ``*`` or names (EventBridge numbers Sunday 1, cron 0).
"""

from __future__ import annotations

import importlib
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chalice import Chalice
from chalice.app import ScheduledEventConfig
from croniter import croniter

logger = logging.getLogger("devstack.schedules")

EVENT_TEMPLATE = Path(__file__).resolve().parents[1] / "tests" / "events" / "scheduled-event.json"
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


class ScheduleError(ValueError):
    """A schedule expression this scheduler cannot run."""


def next_run(expression: str, after: datetime) -> datetime:
    """When an EventBridge schedule expression fires next after ``after``."""
    rate = _RATE.match(expression)
    if rate:
        return after + int(rate.group(1)) * _UNITS[rate.group(2).rstrip("s")]
    if expression.startswith("cron(") and expression.endswith(")"):
        fields = expression[5:-1].split()
        if len(fields) != 6:
            raise ScheduleError(f"{expression!r}: EventBridge cron has six fields")
        minute, hour, day, month, weekday, _year = fields
        if weekday.isdigit():
            raise ScheduleError(f"{expression!r}: use ? or day names for the day of the week")
        cron = " ".join(field.replace("?", "*") for field in (minute, hour, day, month, weekday))
        return croniter(cron, after).get_next(datetime)  # type: ignore[no-any-return]
    raise ScheduleError(f"{expression!r} is neither rate(…) nor cron(…)")


def scheduled_event(name: str, moment: datetime, region: str = "ap-northeast-1") -> dict[str, Any]:
    """The event EventBridge delivers to a scheduled function (tests/events/scheduled-event.json)."""
    event: dict[str, Any] = json.loads(EVENT_TEMPLATE.read_text(encoding="utf-8"))
    event.update(id=str(uuid.uuid4()), time=moment.strftime("%Y-%m-%dT%H:%M:%SZ"), region=region)
    event["resources"] = [f"arn:aws:events:{region}:123456789012:rule/local-manabiplus-{name}"]
    return event


@dataclass
class Job:
    name: str
    expression: str
    handler: Callable[[dict[str, Any], Any], Any]
    next_at: datetime


def jobs_of(app: Chalice, now: datetime) -> list[Job]:
    jobs = []
    for source in app.event_sources:
        if isinstance(source, ScheduledEventConfig):
            module, _, attribute = source.handler_string.rpartition(".")
            handler = getattr(importlib.import_module(module), attribute)
            expression = str(source.schedule_expression)
            jobs.append(Job(source.name, expression, handler, next_run(expression, now)))
    return jobs


class LocalScheduler:
    """Runs due jobs one after another from one thread; a failed run is logged, as on Lambda."""

    def __init__(self, app: Chalice, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock
        self.jobs = jobs_of(app, clock())
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="local-schedules", daemon=True)

    def run_due(self) -> list[tuple[str, Any]]:
        """Run every job that is due now; return (name, result or exception) for each."""
        ran: list[tuple[str, Any]] = []
        for job in self.jobs:
            now = self._clock()
            if job.next_at > now:
                continue
            try:
                result: Any = job.handler(scheduled_event(job.name, now), None)
                logger.info("scheduled %s: %s", job.name, result)
            except Exception as error:
                logger.exception("scheduled %s failed", job.name)
                result = error
            job.next_at = next_run(job.expression, now)
            ran.append((job.name, result))
        return ran

    def start(self) -> LocalScheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self.run_due()
            soonest = min((job.next_at for job in self.jobs), default=self._clock() + timedelta(minutes=1))
            self._stopping.wait(max(0.5, min(60.0, (soonest - self._clock()).total_seconds())))
