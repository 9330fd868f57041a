"""A bounded memo for the request path: one dict lookup when the key is known.

Every memo the middleware keeps is keyed on something a visitor controls (a cookie's value, the
names in a ``Cookie`` header), so each must stay bounded under a flood of new keys without
forgetting the keys in use. :class:`Memo` keeps two generations: when the current one is full it
becomes the previous one, and a key found there moves back on its next use. Memory stays below
twice the limit; the keys of returning visitors survive the swap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Memo"]

K = TypeVar("K")
V = TypeVar("V")
_MISSING = object()


class Memo(dict[K, V], Generic[K, V]):
    """``memo[key]`` is ``compute(key)``, computed once while the key stays in use.

    A ``dict`` subclass so that a hit is the dict's own lookup (no Python call); only a miss runs
    :meth:`__missing__`."""

    __slots__ = ("_compute", "_limit", "_previous")

    def __init__(self, compute: Callable[[K], V], limit: int) -> None:
        super().__init__()
        if limit < 1:
            raise ValueError(f"a memo's limit must be at least 1, got {limit}")
        self._compute = compute
        self._limit = limit
        self._previous: dict[K, V] = {}

    def __missing__(self, key: K) -> V:
        value = self._previous.pop(key, _MISSING)
        if value is _MISSING:
            value = self._compute(key)
        if len(self) >= self._limit:
            self._previous = dict(self)  # one copy per `limit` misses
            self.clear()
        self[key] = value  # type: ignore[assignment]
        return value  # type: ignore[return-value]

    @property
    def limit(self) -> int:
        return self._limit

    def held(self) -> list[V]:
        """The values held in both generations."""
        return [*self.values(), *self._previous.values()]

    def size(self) -> int:
        """Entries held in both generations (at most twice the limit)."""
        return len(self) + len(self._previous)
