"""JSON from outside (request bodies, page cursors), parsed with a bounded nesting depth.

Python's parser recurses once per level: about a thousand levels of ``[`` end in a
``RecursionError``, not a ``ValueError``. The depth is counted before parsing, outside string
literals, so a document nested deeper than ``max_depth`` is refused as malformed, cheaply.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32
# A string literal (with its escapes), or one bracket.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)


class JsonDepthError(ValueError):
    """The document nests objects and arrays deeper than allowed."""


def depth(text: str, stop_above: int | None = None) -> int:
    """How deeply ``text`` nests arrays and objects (brackets inside strings do not count);
    counting stops once it passes ``stop_above``."""
    deepest = level = 0
    for token in _TOKENS.finditer(text):
        char = token.group()
        if char in "[{":
            level += 1
            deepest = max(deepest, level)
            if stop_above is not None and deepest > stop_above:
                break
        elif char in "]}":
            level -= 1
    return deepest


def loads(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that refuses more than ``max_depth`` levels; raises ``ValueError`` (bad
    UTF-8, bad JSON, too deep, a number too long to convert) and nothing else."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    if depth(text, stop_above=max_depth) > max_depth:
        raise JsonDepthError(f"nested more than {max_depth} levels deep")
    return json.loads(text)
