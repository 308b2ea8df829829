"""The local stack's HTTP servers answer without waiting for the client's delayed ACK.

``chalice local`` writes a response's headers and its body in two ``send`` calls. With Nagle's
algorithm on, the body waits until the client acknowledges the headers, and the client's
kernel delays that acknowledgement (about 40 ms on Linux): every API call of the local stack
took ~45 ms, even ``GET /health`` (measured, docs/PERFORMANCE.md). A server that sets
``TCP_NODELAY`` on each connection sends the body at once."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from chalice.local import ChaliceRequestHandler

from devstack.chalice_local import send_without_delay


@pytest.fixture
def accepted() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        with socket.create_connection(server.getsockname()) as client:
            connection, _ = server.accept()
            with connection, client:
                yield connection


def _nodelay_after_setup(handler_type: type, connection: socket.socket) -> bool:
    handler = handler_type.__new__(handler_type)
    handler.request = connection
    handler.setup()  # what socketserver runs for each accepted connection
    return bool(connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def test_chalice_locals_connections_send_without_delay(
    accepted: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ChaliceRequestHandler, "disable_nagle_algorithm", ChaliceRequestHandler.disable_nagle_algorithm)
    send_without_delay()
    assert _nodelay_after_setup(ChaliceRequestHandler, accepted)
