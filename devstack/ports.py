"""The local stack's ports: checked before anything starts, so a taken one is one clear line.

(moto's threaded server waits forever for a server that could not bind, and chalice local exits
with a traceback in its own log.)
"""

from __future__ import annotations

import socket

PORT_VARIABLES = {"emulator": "MANABI_MOTO_PORT", "API": "MANABI_API_PORT"}


def taken(ports: dict[str, int]) -> list[str]:
    """One sentence per port (``{"emulator": 5000, "API": 8000}``) that cannot be bound on 127.0.0.1."""
    problems = []
    for what, port in ports.items():
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError as error:
                problems.append(
                    f"port {port} for the {what} is taken ({error.strerror}): stop what listens there, "
                    f"or choose another port with {PORT_VARIABLES[what]}=…"
                )
    return problems
