"""One place that reads the environment.

Each Lambda function needs a different subset of settings, so settings are read on first
use and a missing one fails with a message naming the variable, never with a KeyError deep
inside a handler. ``environment`` reads values; ``functions`` holds the API's and the upkeep
functions' settings, ``scanning`` the scanner's and the definitions updater's.
"""

from chalicelib.config.environment import (
    CANARY_PREFIX,
    DEFAULT_CLAMD_TIMEOUT_SECONDS,
    DEFAULT_DEFINITIONS_PREFIX,
    DEFAULT_MAX_DEFINITIONS_AGE_HOURS,
    DEFAULT_MAX_SCAN_BYTES,
    DEFAULT_UPLOAD_PREFIX,
    ConfigurationError,
)
from chalicelib.config.functions import (
    AdminSettings,
    ApiSettings,
    BackupSettings,
    CanarySettings,
    SweepSettings,
    UploadEventSettings,
)
from chalicelib.config.scanning import DefinitionsUpdateSettings, ScannerSettings

__all__ = [
    "CANARY_PREFIX",
    "DEFAULT_CLAMD_TIMEOUT_SECONDS",
    "DEFAULT_DEFINITIONS_PREFIX",
    "DEFAULT_MAX_DEFINITIONS_AGE_HOURS",
    "DEFAULT_MAX_SCAN_BYTES",
    "DEFAULT_UPLOAD_PREFIX",
    "AdminSettings",
    "ApiSettings",
    "BackupSettings",
    "CanarySettings",
    "ConfigurationError",
    "DefinitionsUpdateSettings",
    "ScannerSettings",
    "SweepSettings",
    "UploadEventSettings",
]
