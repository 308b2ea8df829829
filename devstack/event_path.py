"""The local stack's emulated event path: S3 → EventBridge → SQS (moto) → the upload handler →
moto's Step Functions executor, made to carry concurrent uploads as AWS does.

Two things serialised every upload here (measured with py-spy, docs/PERFORMANCE.md, "The local
event path"):

- **One delivery thread.** Each event waited for the previous one's ``StartExecution`` and
  ``DeleteMessage``. On AWS, EventBridge invokes the handler asynchronously, one invocation per
  event, concurrently. ``EventDelivery`` hands each received event to a pool of workers.
- **The executor's per-step CPU**, all under the local stack's one GIL: moto's Step Functions
  interpreter re-parses the whole definition with ANTLR (and rebuilds its evaluation components)
  for every execution, builds a new boto3 client for every SDK task, and builds a new PLY parser
  (LALR tables included) for every JSONPath it reads. ``EmulatorSpeedups`` caches the parsed
  program per definition (its components keep no per-execution state: that lives in each
  execution's environment), the clients (botocore clients are thread-safe) and the compiled paths
  (immutable); and moto's server stops listing its package directory for every request.
  What the emulator does is unchanged; it only stops redoing the same work.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote_plus

logger = logging.getLogger("devstack.event_path")

MAX_EVENT_ATTEMPTS = 3
DELIVERY_WORKERS = 8

Handler = Callable[[dict[str, Any], Any], Any]


def as_s3_sends_it(event: dict[str, Any]) -> dict[str, Any]:
    """moto sends raw keys; S3 URL-encodes them in every notification, and the handler decodes
    them, so encode them here as AWS would."""
    obj = event.get("detail", {}).get("object", {})
    if "key" in obj:
        obj["key"] = quote_plus(obj["key"], safe="/")
    return event


class EventDelivery:
    """What Lambda's EventBridge integration does on AWS: hand each event to the handler, many at
    once. A failed event stays in the queue and comes back after its visibility timeout, up to
    ``MAX_EVENT_ATTEMPTS`` deliveries, then it is dropped (logged)."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        handler: Handler,
        stopping: threading.Event,
        workers: int = DELIVERY_WORKERS,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._handler = handler
        self._stopping = stopping
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="upload-event")
        self._slots = threading.Semaphore(workers)
        self._thread = threading.Thread(target=self._poll, name="upload-events", daemon=True)

    def start(self) -> EventDelivery:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5) -> None:
        self._stopping.set()
        self._thread.join(timeout=timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _poll(self) -> None:
        while not self._stopping.is_set():
            try:
                received = self._sqs.receive_message(
                    QueueUrl=self._queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=1,
                    AttributeNames=["ApproximateReceiveCount"],
                )
            except Exception:
                if self._stopping.is_set():
                    return
                logger.exception("cannot poll the upload event queue")
                self._stopping.wait(1)
                continue
            for message in received.get("Messages", []):
                self._slots.acquire()  # back-pressure: no more events in flight than workers
                try:
                    self._pool.submit(self._deliver, message)
                except RuntimeError:  # the pool is shutting down
                    self._slots.release()
                    return

    def _deliver(self, message: dict[str, Any]) -> None:
        try:
            event = as_s3_sends_it(json.loads(message["Body"]))
            key = event.get("detail", {}).get("object", {}).get("key")
            attempts = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            try:
                result = self._handler(event, None)
                logger.info("upload event for %s: %s", key, result)
            except Exception:
                logger.exception("upload handler failed (attempt %d of %d)", attempts, MAX_EVENT_ATTEMPTS)
                if attempts < MAX_EVENT_ATTEMPTS:
                    return
            self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        except Exception:
            if not self._stopping.is_set():
                logger.exception("cannot deliver an upload event")
        finally:
            self._slots.release()


class EmulatorSpeedups:
    """Caches what moto's Step Functions interpreter recomputes on every execution and step (see
    the module docstring). ``install`` patches this process's moto; ``uninstall`` restores it."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self.trees_parsed = 0
        self.clients_built = 0

    @property
    def installed(self) -> bool:
        return bool(self._undo)

    def install(self) -> EmulatorSpeedups:
        with self._lock:
            if not self._undo:
                self._patch_parser()
                self._patch_json_paths()
                self._patch_clients()
                self._patch_dispatch()
        return self

    def uninstall(self) -> None:
        with self._lock:
            while self._undo:
                self._undo.pop()()

    def __enter__(self) -> EmulatorSpeedups:
        return self.install()

    def __exit__(self, *exc_info: object) -> None:
        self.uninstall()

    def _patch_parser(self) -> None:
        from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
        from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

        original = AmazonStateLanguageParser.__dict__["parse"]
        parse_lock = threading.Lock()

        @functools.lru_cache(maxsize=64)
        def parsed(definition: str) -> tuple[Any, Any]:
            self.trees_parsed += 1
            program, tree = original.__func__(definition)
            _warm_heap_keys(program, EvalComponent)
            return program, tree

        def parse(definition: str) -> tuple[Any, Any]:
            with parse_lock:
                return parsed(definition)

        AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign,assignment]
        self._undo.append(lambda: setattr(AmazonStateLanguageParser, "parse", original))

    def _patch_json_paths(self) -> None:
        from moto.stepfunctions.parser.asl.utils import json_path

        original = json_path.parse  # type: ignore[attr-defined]
        json_path.parse = functools.lru_cache(maxsize=4096)(original)  # type: ignore[attr-defined]
        self._undo.append(lambda: setattr(json_path, "parse", original))

    def _patch_dispatch(self) -> None:
        """moto's server lists its own package directory (about 200 ``isdir`` calls) for every
        request, under a lock every request takes; the list never changes while it runs."""
        from moto import backends

        original = backends.list_of_moto_modules
        modules = tuple(original())
        backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]
        self._undo.append(lambda: setattr(backends, "list_of_moto_modules", original))

    def _patch_clients(self) -> None:
        from moto.settings import moto_server_port
        from moto.stepfunctions.parser.asl.utils import boto_client

        original = boto_client.boto_client_for
        clients: dict[tuple[str, str, str], Any] = {}
        clients_lock = threading.Lock()

        def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
            from moto.core.models import botocore_stubber

            # In-process moto (the stubber) and moto's server need different clients.
            where = "stubber" if botocore_stubber.enabled else str(moto_server_port())
            key = (region, service, where)
            with clients_lock:
                if key not in clients:
                    clients[key] = original(region, service, state_credentials)
                    self.clients_built += 1
                return clients[key]

        # The task modules imported the function by name: replace it wherever it was imported.
        patched = [boto_client] + [
            module
            for name, module in list(sys.modules.items())
            if name.startswith("moto.stepfunctions") and getattr(module, "boto_client_for", None) is original
        ]
        for module in patched:
            module.boto_client_for = client_for  # type: ignore[attr-defined]

        def undo() -> None:
            for module in patched:
                module.boto_client_for = original  # type: ignore[attr-defined]

        self._undo.append(undo)


def _warm_heap_keys(root: Any, component_type: type) -> None:
    """The evaluation components keep no state between executions (each execution's state lives
    in its own environment), except a lazily drawn ``heap_key``: draw every one now, so executions
    sharing the components never race to draw two."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, component_type):
            _ = item.heap_key  # type: ignore[attr-defined]
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            pending.extend(item)
        elif hasattr(item, "__dict__") and type(item).__module__.startswith("moto.stepfunctions"):
            pending.extend(vars(item).values())
