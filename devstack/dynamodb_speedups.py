"""The local stack's emulated DynamoDB, made to stop redoing the same work for every request.

Profiled under upload load (docs/PERFORMANCE.md, "The local event path"), moto's ``UpdateItem``
was the largest single cost of the local stack's process: for each request it tokenises and
parses the update expression twice (once to check the placeholders, once to apply it), copies
the parsed tree with ``copy.deepcopy`` before validating it, and lexes the condition expression
twice with freshly compiled regular expressions. The state machine sends the same few
expressions for every upload; only their values change.

``ExpressionCaches`` keeps, per expression string:

- the parsed update expression. moto never changes the tree it parsed: the checks only read it
  and the validator works on a copy, so one tree can serve every request (and thread);
- that tree pickled, so the validator's copy is a ``pickle.loads`` instead of a ``deepcopy``
  (the same object graph: both copy every node's ``__dict__``, parents included);
- the condition expression's tokens (immutable tuples), handed out as a new ``deque``.

What each request validates, evaluates and stores is unchanged, errors included: an expression
that fails to parse raises as before and is not cached.
"""

from __future__ import annotations

import copy
import pickle
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

MAX_EXPRESSIONS = 512


class _Lru:
    """A bounded, thread-safe map from an expression string to what was computed from it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.misses = 0

    def get(self, key: str, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()  # raises for an invalid expression: nothing is cached
        with self._lock:
            self.misses += 1
        self.add(key, value)
        return value

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def add(self, key: Any, value: Any = True) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def values(self) -> list[Any]:
        with self._lock:
            return list(self._items.values())

    def __len__(self) -> int:
        return len(self._items)


class ExpressionCaches:
    """Caches of moto's DynamoDB expression parsing (see the module docstring). ``install``
    patches this process's moto; ``uninstall`` restores it."""

    def __init__(self, size: int = MAX_EXPRESSIONS) -> None:
        self.update_expressions = _Lru(size)
        self.condition_tokens = _Lru(size)
        self.expression_checks = _Lru(size)
        self._undo: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    @property
    def installed(self) -> bool:
        return bool(self._undo)

    def install(self) -> ExpressionCaches:
        with self._lock:
            if not self._undo:
                self._patch_update_expressions()
                self._patch_condition_lexer()
        return self

    def uninstall(self) -> None:
        with self._lock:
            while self._undo:
                self._undo.pop()()

    def __enter__(self) -> ExpressionCaches:
        return self.install()

    def __exit__(self, *exc_info: object) -> None:
        self.uninstall()

    def _patch_update_expressions(self) -> None:
        from moto.dynamodb.parsing import validators
        from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

        original = UpdateExpressionParser.__dict__["make"]  # a classmethod
        make = original.__func__
        cache = self.update_expressions

        # id(tree) → (tree, pickled) for every tree handed out; holding the tree keeps its id unique.
        trees: dict[int, tuple[Any, bytes]] = {}

        def parsed(expression: str) -> tuple[Any, bytes]:
            tree = make(UpdateExpressionParser, expression)
            entry = tree, pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL)
            trees[id(tree)] = entry
            if len(trees) > 2 * cache.size:  # forget the trees the cache evicted
                live = {id(value[0]) for value in cache.values()} | {id(tree)}
                for key in [key for key in list(trees) if key not in live]:
                    trees.pop(key, None)
            return entry

        def cached_make(cls: type, expression: str) -> Any:
            return cache.get(expression, lambda: parsed(expression))[0]

        def copy_tree(value: Any, memo: dict[int, Any] | None = None) -> Any:
            entry = trees.get(id(value)) if memo is None else None
            if entry is not None and entry[0] is value:
                return pickle.loads(entry[1])  # noqa: S301 - our own pickle of moto's parse tree
            return copy.deepcopy(value, memo)

        UpdateExpressionParser.make = classmethod(cached_make)  # type: ignore[method-assign,assignment]
        original_deepcopy = validators.deepcopy
        validators.deepcopy = copy_tree  # type: ignore[assignment]

        def undo() -> None:
            UpdateExpressionParser.make = original  # type: ignore[method-assign]
            validators.deepcopy = original_deepcopy  # type: ignore[assignment]

        self._undo.append(undo)
        self._patch_expression_checks(trees)

    def _patch_expression_checks(self, trees: dict[int, tuple[Any, bytes]]) -> None:
        """Three of the validator's ten passes read nothing but the expression, its attribute
        names and the table's key attributes, change nothing, and can only raise: too many
        clauses, overlapping paths, a key attribute updated. Once they passed for that triple they
        pass again, so later requests skip them; the other passes (values, the item, types) run."""
        from moto.dynamodb.parsing import validators

        cls = validators.UpdateExpressionValidator
        expression_only = (
            validators.ActionCountValidator,
            validators.OverlappingPathsValidator,
            validators.UpdateHashRangeKeyValidator,
        )
        passed = self.expression_checks
        saved = {name: cls.__dict__.get(name) for name in ("__init__", "validate")}
        original_init, original_validate = cls.__init__, cls.validate

        def init(validator: Any, expression: Any, *args: Any, **kwargs: Any) -> None:
            original_init(validator, expression, *args, **kwargs)
            entry = trees.get(id(expression))
            validator._checks_key = None
            if entry is not None and entry[0] is expression:
                names = frozenset((validator.expression_attribute_names or {}).items())
                validator._checks_key = (entry[1], names, tuple(validator.table.table_key_attrs))

        def validate(validator: Any) -> Any:
            key = getattr(validator, "_checks_key", None)
            if key is None:
                return original_validate(validator)
            skip = key in passed
            last = max((i for i, p in enumerate(validator.processors) if isinstance(p, expression_only)), default=-1)
            node = validator.node_to_validate
            for index, processor in enumerate(validator.processors):
                if skip and isinstance(processor, expression_only):
                    continue
                node = processor.traverse(node)
                if index == last:  # all three passed (they raise otherwise)
                    passed.add(key)
            return node

        cls.__init__ = init  # type: ignore[method-assign,assignment]
        cls.validate = validate  # type: ignore[method-assign,assignment]

        def undo() -> None:
            for name, value in saved.items():
                if value is None:
                    delattr(cls, name)
                else:
                    setattr(cls, name, value)

        self._undo.append(undo)

    def _patch_condition_lexer(self) -> None:
        from moto.dynamodb.comparisons import ConditionExpressionParser

        original = ConditionExpressionParser.__dict__["_lex_condition_expression"]
        cache = self.condition_tokens

        def lex(parser: ConditionExpressionParser) -> deque[Any]:
            expression = parser.condition_expression or ""
            tokens = cache.get(expression, lambda: tuple(original(parser)))
            # The parser consumes the deque; each lexed token's ``children`` is a new empty list.
            return deque(token._replace(children=list(token.children)) for token in tokens)

        ConditionExpressionParser._lex_condition_expression = lex  # type: ignore[method-assign,assignment]
        self._undo.append(lambda: setattr(ConditionExpressionParser, "_lex_condition_expression", original))
