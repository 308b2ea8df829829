"""A small client for clamd's INSTREAM protocol.

Why not a PyPI client: the ones measured (``clamd`` 1.0.2, ``clamav-client`` 0.7.2,
``python-clamd``) turn clamd's ``INSTREAM size limit exceeded. ERROR`` reply into a bare
``BrokenPipeError``, leak the socket when the connection fails, and send 1 KiB chunks.
This client reads clamd's reply even after a failed write, always closes its socket, and
streams in large chunks from any iterable of bytes, so the caller can hash on the way.
See ``shared/research/probe-clamav.md`` section 3.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from chalicelib.clamav.errors import ClamdTimeoutError, ClamdUnavailableError

_END_OF_STREAM = struct.pack(">I", 0)
_MAX_REPLY_BYTES = 64 * 1024


@dataclass(frozen=True)
class ClamdAddress:
    """Where clamd listens: ``unix:///path/clamd.sock``, ``/path/clamd.sock`` or ``tcp://host:port``."""

    family: int
    target: str | tuple[str, int]

    @classmethod
    def parse(cls, address: str) -> ClamdAddress:
        if address.startswith("tcp://"):
            host, _, port = address[len("tcp://") :].rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"clamd address {address!r} must look like tcp://host:port")
            return cls(socket.AF_INET, (host, int(port)))
        path = address[len("unix://") :] if address.startswith("unix://") else address
        if not path.startswith("/"):
            raise ValueError(f"clamd address {address!r} must be an absolute socket path or tcp://host:port")
        return cls(socket.AF_UNIX, path)


class ClamdClient:
    """Talks to one clamd; every command uses a fresh connection, closed afterwards."""

    def __init__(self, address: str, timeout_seconds: float = 600.0) -> None:
        self.address = ClamdAddress.parse(address)
        self.timeout_seconds = timeout_seconds

    def ping(self) -> bool:
        return self._command(b"zPING\0") == "PONG"

    def version(self) -> str:
        """``ClamAV 1.4.6`` or, with official databases, ``ClamAV 1.4.6/27512/<date>``."""
        return self._command(b"zVERSION\0")

    def reload(self) -> str:
        return self._command(b"zRELOAD\0")

    def instream(self, chunks: Iterable[bytes], while_scanning: Callable[[], None] | None = None) -> str:
        """Stream ``chunks`` to clamd and return its reply, e.g. ``stream: OK``.

        A reply that arrives while we are still writing (clamd closes the connection when
        the stream passes ``StreamMaxLength``) is returned, not swallowed. ``while_scanning``
        runs once the whole stream is sent, while clamd unpacks and scans it (it is not called
        when the stream was cut short).
        """
        with self._connect() as conn:
            try:
                conn.sendall(b"zINSTREAM\0")
                for chunk in chunks:
                    if chunk:
                        conn.sendall(struct.pack(">I", len(chunk)) + chunk)
                conn.sendall(_END_OF_STREAM)
            except (BrokenPipeError, ConnectionResetError) as write_error:
                reply = self._read_reply_after_write_error(conn)
                if reply:
                    return reply
                raise ClamdUnavailableError(f"clamd closed the stream: {write_error}") from write_error
            except TimeoutError as timeout:
                raise ClamdTimeoutError(f"clamd did not accept data within {self.timeout_seconds}s") from timeout
            if while_scanning is not None:
                while_scanning()
            return self._read_reply(conn)

    def _command(self, command: bytes) -> str:
        with self._connect() as conn:
            try:
                conn.sendall(command)
            except OSError as error:
                raise ClamdUnavailableError(f"clamd closed the connection: {error}") from error
            return self._read_reply(conn)

    def _connect(self) -> socket.socket:
        conn = socket.socket(self.address.family, socket.SOCK_STREAM)
        conn.settimeout(self.timeout_seconds)
        try:
            conn.connect(self.address.target)
        except OSError as error:
            conn.close()
            raise ClamdUnavailableError(f"cannot connect to clamd at {self.address.target}: {error}") from error
        return conn

    def _read_reply(self, conn: socket.socket) -> str:
        reply = bytearray()
        try:
            while not reply.endswith(b"\0") and len(reply) < _MAX_REPLY_BYTES:
                data = conn.recv(4096)
                if not data:
                    break
                reply += data
        except TimeoutError as timeout:
            raise ClamdTimeoutError(f"clamd did not answer within {self.timeout_seconds}s") from timeout
        except OSError as error:
            raise ClamdUnavailableError(f"lost the connection to clamd: {error}") from error
        if not reply:
            raise ClamdUnavailableError("clamd closed the connection without a reply")
        return reply.rstrip(b"\0\n").decode("utf-8", errors="replace")

    @staticmethod
    def _read_reply_after_write_error(conn: socket.socket) -> str:
        try:
            conn.settimeout(2.0)
            data = conn.recv(4096)
        except OSError:
            return ""
        return data.rstrip(b"\0\n").decode("utf-8", errors="replace")
