"""Result records of the catalog client."""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import frozen

if TYPE_CHECKING:
    import pystac

    from rs_core.errors import RsError

__all__ = ["ItemResult"]


@frozen
class ItemResult:
    """What happened to one item of a bulk :meth:`StacClient.add_items` call.

    ``ok`` is true when the server stored the item; then ``item`` is the stored item (as the
    server returned it). Otherwise ``error`` is the typed :class:`rs_core.RsError` (a
    :class:`~rs_core.ConflictError` for a duplicate, an :class:`~rs_core.InvalidInputError`
    for an item that failed local validation...).

    >>> ItemResult("a", ok=False).ok
    False
    """

    item_id: str
    ok: bool
    item: pystac.Item | None = None
    error: RsError | None = None

    def __repr__(self) -> str:
        outcome = "ok" if self.ok else f"error={self.error!r}"
        return f"ItemResult({self.item_id!r}, {outcome})"
