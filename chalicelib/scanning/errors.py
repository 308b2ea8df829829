"""Why a scan raised instead of returning a verdict. The state machine's Retry and Catch name
these classes (statemachines/scan-object.asl.json); tests/infra ties the names together."""

from __future__ import annotations


class ObjectUnavailableError(Exception):
    """The object version to scan does not exist (any more) or cannot be read."""


class StorageThrottledError(Exception):
    """S3 asked us to slow down (transient: retry later)."""


class ScanRequestError(ValueError):
    """The invocation payload does not name an object version."""


class UploadEventError(ValueError):
    """The event is not an S3 Object Created event we can act on."""


class AuditMissingError(Exception):
    """clamd said OK but the archive audit did not run: that is no proof of a complete read."""
