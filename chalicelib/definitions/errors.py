"""Definitions that cannot be trusted, and updates that did not happen."""

from __future__ import annotations


class DefinitionsUnavailableError(Exception):
    """The definitions in use are missing, unidentifiable or too old to trust."""


class DefinitionsUpdateError(Exception):
    """The update failed; the published set is unchanged."""
