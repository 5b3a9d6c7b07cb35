"""Sorted search selections kept per query, so that paging through N items costs O(N).

A paged search (a STAC station's ``/collections/{id}/items`` and ``/search``, the catalog's
``/search`` and ``/collections/{id}/items``) answers one page of the items a query matches,
sorted. Selecting and sorting every match again for each page made paging through N items cost
O(N²/page): about 2 s a page at 50,000 items. A :class:`SelectionCache` keeps the last few
selections, keyed on everything of the query that selects (collections, datetime, filter, bbox,
ids, sort), not on the page position or the limit. The owner calls :meth:`~SelectionCache.changed`
on every change to the data a selection is made from: the next request selects again, as it did
before the cache, so a page asked after a change is the page it always was.

Example:
    >>> cache = SelectionCache(size=2)
    >>> cache.get(("all",), lambda: [3, 2, 1]), cache.get(("all",), lambda: [9])
    ([3, 2, 1], [3, 2, 1])
    >>> cache.changed()
    >>> cache.get(("all",), lambda: [9]), cache.computed
    ([9], 2)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

__all__ = ["DEFAULT_SIZE", "SelectionCache"]

DEFAULT_SIZE = 8
"""Selections kept per cache: a few clients paging different queries at once."""

T = TypeVar("T")


class SelectionCache(Generic[T]):
    """The last ``size`` selections, least recently used dropped first (``size=0``: none kept).

    ``computed`` counts the selections computed (every miss): a test's measure of work.
    ``generation`` counts the changes; a selection computed while the data changed is not kept.
    Thread-safe; a selection is computed outside the lock (two threads may both compute one).
    A kept selection is shared: callers slice it, never change it.
    """

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.computed = 0
        self.generation = 0
        self._size = size
        self._entries: OrderedDict[Hashable, Sequence[T]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def size(self) -> int:
        """How many selections are kept at most (0: none, every request selects)."""
        return self._size

    @size.setter
    def size(self, size: int) -> None:
        with self._lock:
            self._size = max(0, size)
            self._trim()

    def _trim(self) -> None:
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def get(self, key: Hashable, compute: Callable[[], Sequence[T]]) -> Sequence[T]:
        """The selection of ``key``: the kept one, else ``compute()`` (kept if ``size``)."""
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
            self.computed += 1
            generation = self.generation
        selected = compute()
        with self._lock:
            if self._size > 0 and generation == self.generation:
                self._entries[key] = selected
                self._entries.move_to_end(key)
                self._trim()
        return selected

    def changed(self) -> None:
        """The data changed: forget every selection."""
        with self._lock:
            self.generation += 1
            self._entries.clear()
