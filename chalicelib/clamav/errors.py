"""What can go wrong talking to clamd, and an engine that does not prove itself."""

from __future__ import annotations


class ClamdError(Exception):
    """clamd answered, but not with a scan result."""


class ClamdUnavailableError(ClamdError):
    """clamd could not be reached or stopped answering (transient: retry later)."""


class ClamdTimeoutError(ClamdError):
    """clamd took longer than the configured timeout to answer."""


class ClamdReplyError(ClamdError):
    """clamd answered with something that is not a scan result (e.g. ``... ERROR``)."""


class EngineCheckError(Exception):
    """clamd did not load the published definitions or missed a canary: its answers do not count."""
