"""``StacClient``: a pystac-client ``Client`` for RS-Server's multi-tenant STAC catalog.

It is a :class:`pystac_client.Client` (browse, ``search`` with lazy paging) *and* an
:class:`rs_core.RsClient` (owner, API key, one shared HTTP session), with the catalog's
transactions on top::

    from rs_catalog import StacClient

    catalog = StacClient.open("https://rs.example.eu", "my-api-key", "alice")
    catalog.add_collection(pystac.Collection(id="s1_l0", description="", extent=extent))
    catalog.add_item("s1_l0", item)
    for item in catalog.search(collections=["s1_l0"], datetime="2024-01-01/..").items():
        print(item.id)
    catalog.remove_collection("s1_l0")

**One shape for collections and items.** RS-Server lists collections as ``owner_coll``, serves
one as ``coll`` plus ``owner``, and search results carry ``"collection": "owner_coll"``. This
client presents every collection with its *public* id ``owner:coll`` as ``id`` and the owner in
``extra_fields["owner"]``, and every item with ``collection_id == "owner:coll"`` and
``properties["owner"]``. Methods accept a short id (``"s1_l0"``, owner from ``owner_id=`` or
the client's) or a public id (``"alice:s1_l0"``).

**Plain STAC APIs.** ``catalog_path=""`` and ``owner_mapping=False`` target a STAC API without
RS-Server's layout (e.g. stac-fastapi-pgstac): the API is at the root, and collections are
created with the public id ``owner:coll`` literally (plus a top-level ``owner`` field).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import reprlib
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Self, cast
from urllib.parse import quote, unquote, urlsplit

import pystac
import requests
from pystac.serialization import identify_stac_object, migrate_to_latest
from pystac_client import Client, CollectionClient, ItemSearch
from pystac_client._utils import Modifiable, call_modifier
from pystac_client.conformance import ConformanceClasses

from rs_catalog.records import ItemResult
from rs_catalog.stac_io import RsStacApiIO
from rs_catalog.validation import validate_collection, validate_item
from rs_core.auth import sanitize_owner_id
from rs_core.client import RsClient
from rs_core.dates import parse_datetime
from rs_core.errors import (
    BadResponseError,
    ConfigurationError,
    InvalidInputError,
    NotFoundError,
    RequestRejectedError,
    RsError,
    ServerError,
)
from rs_core.items import build_item, copy_nested, json_copy, lazy_item_collection

__all__ = [
    "CATALOG_ENV",
    "DEFAULT_CATALOG_PATH",
    "PUBLIC_LICENSE",
    "PUBLIC_LICENSE_URL",
    "StacClient",
    "quote_segment",
]

CATALOG_ENV = "RSPY_HOST_CATALOG"
DEFAULT_CATALOG_PATH = "/catalog"
PUBLIC_LICENSE = "public-domain"
PUBLIC_LICENSE_URL = "https://creativecommons.org/licenses/publicdomain/"
Entry = tuple[int, pystac.Item, dict[str, Any]]
"""An item of ``add_items``: its index in the call, the item, the body to send."""

_SERVER_LINKS = frozenset({"self", "root", "parent", "child", "item", "items", "collection"})
_OPTIONS = frozenset(
    {
        "catalog_path",
        "owner_mapping",
        "rs_server_rules",
        "headers",
        "parameters",
        "ignore_conformance",
        "modifier",
        "request_modifier",
        "stac_io",
        "timeout",
    }
)


def quote_segment(value: str) -> str:
    """Percent-encode ``value`` as one URL path segment (``/ ? # %`` included).

    ``"."`` and ``".."`` cannot be one: requests decodes ``%2E`` back to ``.`` (an unreserved
    character) and proxies resolve dot segments, so ``DELETE .../items/..`` would delete the
    collection. They raise :class:`~rs_core.InvalidInputError`.

    >>> quote_segment("a/b?c#d"), quote_segment("../x"), quote_segment("S1A.SAFE")
    ('a%2Fb%3Fc%23d', '..%2Fx', 'S1A.SAFE')
    """
    if value in (".", ".."):
        raise InvalidInputError(f"The id {value!r} cannot be sent as a URL path segment")
    return quote(value, safe="")


def _check_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _last_segment(href: object) -> str | None:
    if not isinstance(href, str):
        return None
    path = urlsplit(href).path.rstrip("/")
    return unquote(path.rsplit("/", 1)[-1]) if path else None


def _link_href(d: dict[str, Any], rel: str) -> str | None:
    for link in d.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == rel:
            href = link.get("href")
            return href if isinstance(href, str) else None
    return None


def _unshared(item: pystac.Item, d: dict[str, Any]) -> dict[str, Any]:
    """``d``, what ``item.to_dict()`` gave, with nothing shared with ``item``. pystac's own
    ``to_dict`` makes the item's dict, its links' and its assets' afresh and puts the rest in
    as it is: that rest is copied. Any other class (a subclass, an extension's link or asset):
    all of it is copied."""
    if not (
        type(item).to_dict is _ITEM_TO_DICT
        and all(type(link).to_dict is _LINK_TO_DICT for link in item.links)
        and all(type(asset).to_dict is _ASSET_TO_DICT for asset in item.assets.values())
    ):
        return cast(dict[str, Any], json_copy(d))
    for part in [*d.get("links", []), *d.get("assets", {}).values()]:
        copy_nested(part)
    return copy_nested(d, skip=_FRESH_PARTS)


_FRESH_PARTS = frozenset({"links", "assets"})
_ITEM_TO_DICT = pystac.Item.to_dict
_LINK_TO_DICT = pystac.Link.to_dict
_ASSET_TO_DICT = pystac.Asset.to_dict


class StacClient(RsClient, Client):
    """A pystac-client :class:`~pystac_client.Client` of RS-Server's catalog, sharing the
    :class:`~rs_core.RsClient` settings (owner, API key, HTTP session).

    Build it with :meth:`open`, :func:`rs_core.get_catalog` or ``RsClient(...).get_stac_client()``
    (the constructor itself is pystac's, used internally by pystac)::

        >>> catalog = StacClient.open("http://127.0.0.1:8000", "key", "alice")  # doctest: +SKIP
        >>> catalog.href_stac_api                                              # doctest: +SKIP
        'http://127.0.0.1:8000/catalog'

    Every request goes through the shared :class:`~rs_core.http.ApiKeySession` (including
    pystac-client's own: landing page, search pages, ``next`` links), so the ``x-api-key``
    header travels only to the catalog's origin. Failures raise typed
    :mod:`rs_core.errors`; pystac-client's ``APIError`` is never raised.
    """

    _catalog_href: str
    _service_href: str
    _owner_mapping: bool
    _rs_server_rules: bool
    _user_modifier: Callable[[Modifiable], None] | None
    _collection_cache: dict[str, pystac.Collection]
    _bulk_items: bool | None = None
    """Whether the catalog has the ``bulk_items`` endpoint (``None``: not known yet)."""

    def __init__(  # noqa: PLR0917 - pystac's signature
        self,
        id: str,
        description: str,
        title: str | None = None,
        stac_extensions: list[str] | None = None,
        extra_fields: dict[str, Any] | None = None,
        href: str | None = None,
        catalog_type: pystac.CatalogType = pystac.CatalogType.ABSOLUTE_PUBLISHED,
        strategy: Any = None,
        *,
        modifier: Callable[[Modifiable], None] | None = None,
        **kwargs: Any,
    ) -> None:
        Client.__init__(
            self,
            id,
            description,
            title=title,
            stac_extensions=stac_extensions,
            extra_fields=extra_fields,
            href=href,
            catalog_type=catalog_type,
            strategy=strategy,
            modifier=modifier,
            **kwargs,
        )

    # -- construction --------------------------------------------------------------------

    @classmethod
    def open(  # type: ignore[override]  # noqa: PLR0917 - the seed's signature
        cls,
        rs_server_href: str | None,
        rs_server_api_key: str | None = None,
        owner_id: str | None = None,
        logger: logging.Logger | None = None,
        headers: dict[str, str] | None = None,
        parameters: dict[str, Any] | None = None,
        ignore_conformance: bool | None = None,
        modifier: Callable[[Modifiable], None] | None = None,
        request_modifier: Callable[[requests.Request], requests.Request | None] | None = None,
        stac_io: RsStacApiIO | None = None,
        timeout: float = 30.0,
        *,
        catalog_path: str = DEFAULT_CATALOG_PATH,
        owner_mapping: bool = True,
        rs_server_rules: bool | None = None,
        **settings: Any,
    ) -> Self:
        """Open the catalog at ``{rs_server_href}/catalog/`` (env ``RSPY_HOST_CATALOG`` wins).

        :param rs_server_href: RS-Server base URL; ``None`` for local mode (then
            ``RSPY_HOST_CATALOG`` must be set and no key is sent).
        :param rs_server_api_key: API key (cluster mode), else env ``RSPY_APIKEY``.
        :param owner_id: owner of the collections this client writes; else the OS user
            (local mode) or the key's ``user_login``.
        :param headers: extra headers on every catalog request (not ``x-api-key``).
        :param parameters: extra query parameters on every GET.
        :param ignore_conformance: accepted for the seed API; has no effect (deprecated in
            pystac-client).
        :param modifier: pystac-client's modifier, called on every collection and item after
            this client normalised it.
        :param request_modifier: pystac-client's hook on each :class:`requests.Request`.
        :param stac_io: an :class:`~rs_catalog.stac_io.RsStacApiIO` to use (rarely needed).
        :param timeout: read timeout in seconds of every request.
        :param catalog_path: where the STAC API lives under the base URL: ``"/catalog"``
            (RS-Server) or ``""`` (a plain STAC API at the root).
        :param owner_mapping: ``True`` for RS-Server (a collection is posted with its short id
            and an ``owner`` field); ``False`` for a plain STAC API (posted as ``owner:coll``).
        :param rs_server_rules: check RS-Server's item rules before posting (``s3://`` asset
            hrefs named like their key, ``stac_extensions``); default: ``owner_mapping``.
        :param settings: more :class:`~rs_core.RsClient` settings (``retries``, ``verify``,
            ``http_settings``, ``apikey_check_url``).

        >>> StacClient.open("http://127.0.0.1:8000", "key", "alice")  # doctest: +SKIP
        StacClient(href_stac_api='http://127.0.0.1:8000/catalog', owner_id='alice', ...)
        """
        parent = RsClient(
            rs_server_href, rs_server_api_key, owner_id, logger, timeout=timeout, **settings
        )
        return cls.from_rs_client(
            parent,
            headers=headers,
            parameters=parameters,
            ignore_conformance=ignore_conformance,
            modifier=modifier,
            request_modifier=request_modifier,
            stac_io=stac_io,
            catalog_path=catalog_path,
            owner_mapping=owner_mapping,
            rs_server_rules=rs_server_rules,
        )

    def _setup(self, **options: Any) -> None:
        unknown = set(options) - _OPTIONS
        if unknown:
            raise TypeError(f"StacClient got unexpected options: {sorted(unknown)}")
        path = options.get("catalog_path", DEFAULT_CATALOG_PATH)
        if path is None:
            path = DEFAULT_CATALOG_PATH
        path = "/" + path.strip("/") if path.strip("/") else ""
        base = self.service_href(CATALOG_ENV, "catalog")
        self._service_href = base
        self._catalog_href = base + path
        self._owner_mapping = bool(options.get("owner_mapping", True))
        rules = options.get("rs_server_rules")
        self._rs_server_rules = self._owner_mapping if rules is None else bool(rules)
        self._user_modifier = options.get("modifier")
        self._collection_cache = {}
        stac_io = options.get("stac_io")
        if stac_io is None:
            stac_io = RsStacApiIO(
                self.http,
                headers=options.get("headers"),
                parameters=options.get("parameters"),
                request_modifier=options.get("request_modifier"),
                timeout=options.get("timeout"),
            )
        elif not isinstance(stac_io, RsStacApiIO):
            raise ConfigurationError(
                "stac_io must be an rs_catalog.RsStacApiIO (it sends through the shared "
                f"session that carries the API key), got {type(stac_io).__name__}"
            )
        self._load_landing(stac_io)

    def _load_landing(self, stac_io: RsStacApiIO) -> None:
        href = self._catalog_href + "/"
        response = stac_io.send("GET", href, what="Opening the catalog failed")
        try:
            landing = response.json()
            if not isinstance(landing, dict):
                raise TypeError(f"a JSON {type(landing).__name__}")
            landing = migrate_to_latest(landing, identify_stac_object(landing))
            if landing.get("type", "Catalog") != "Catalog":
                raise TypeError(f"type {landing.get('type')!r}")
            catalog_type = pystac.CatalogType.determine_type(landing)
            links = landing.pop("links", [])
            landing.pop("stac_version", None)
            Client.__init__(
                self,
                id=landing.pop("id"),
                description=landing.pop("description", ""),
                title=landing.pop("title", None),
                stac_extensions=landing.pop("stac_extensions", None),
                extra_fields=landing,
                href=href,
                catalog_type=catalog_type or pystac.CatalogType.ABSOLUTE_PUBLISHED,
                modifier=self._normalise,
            )
            for link in links:
                if link.get("rel") not in ("root", "self"):
                    self.add_link(pystac.Link.from_dict(link))
        except (ValueError, TypeError, KeyError, pystac.STACError, pystac.STACTypeError) as err:
            raise BadResponseError(
                f"Opening the catalog failed: {href} is not a STAC landing page ({err})",
                method="GET",
                url=href,
                status=response.status_code,
                response=response,
            ) from err
        self.set_root(self)
        self._stac_io = stac_io

    # -- identity ------------------------------------------------------------------------

    @property
    def href_catalog(self) -> str:
        """The catalog service URL, as the seed has it: ``RSPY_HOST_CATALOG``, else the
        RS-Server href (without ``/catalog``, like ``href_adgs`` and ``href_cadip``).

        The STAC API itself is at :attr:`href_stac_api`.
        """
        return self._service_href

    @property
    def href_stac_api(self) -> str:
        """The STAC API root without trailing ``/``: ``{href_catalog}/catalog`` on RS-Server,
        ``href_catalog`` itself with ``catalog_path=""`` (a plain STAC API)."""
        return self._catalog_href

    @property
    def owner_mapping(self) -> bool:
        """``True`` when collections are posted RS-Server style (short id + ``owner``)."""
        return self._owner_mapping

    @property
    def stac_io(self) -> RsStacApiIO:
        """The I/O object pystac-client uses (it sends through the shared session)."""
        io = self._stac_io
        assert isinstance(io, RsStacApiIO)
        return io

    def _repr_fields(self) -> dict[str, Any]:
        return {"href_stac_api": getattr(self, "_catalog_href", None), **super()._repr_fields()}

    def __repr__(self) -> str:
        if "_ctx" not in self.__dict__:
            return f"<StacClient id={getattr(self, 'id', None)}>"
        return RsClient.__repr__(self)

    def full_collection_id(self, owner_id: str | None, collection_id: str) -> str:
        """The public id ``owner:collection`` (owner default: this client's).

        >>> catalog.full_collection_id("alice", "s1_aux")                  # doctest: +SKIP
        'alice:s1_aux'
        """
        owner, short = self._split(collection_id, owner_id)
        return f"{owner}:{short}"

    def _owner(self, owner_id: str | None) -> str:
        if owner_id is None:
            return self.owner_id
        try:
            return sanitize_owner_id(owner_id if isinstance(owner_id, str) else "")
        except ConfigurationError as err:
            raise InvalidInputError(str(err)) from err

    def _split(self, collection_id: str, owner_id: str | None) -> tuple[str, str]:
        """``(owner, short id)`` from a short or public collection id."""
        _check_id(collection_id, "collection_id")
        if ":" in collection_id:
            prefix, short = collection_id.split(":", 1)
            if owner_id is None or sanitize_owner_id(owner_id) == prefix:
                if not short:
                    raise InvalidInputError(f"collection_id {collection_id!r} has no name")
                return prefix, short
        return self._owner(owner_id), collection_id

    def _collection_url(self, owner: str, short: str) -> str:
        return f"{self._catalog_href}/collections/{quote_segment(owner)}:{quote_segment(short)}"

    def _item_url(self, owner: str, short: str, item_id: str) -> str:
        item = quote_segment(_check_id(item_id, "item id"))
        return f"{self._collection_url(owner, short)}/items/{item}"

    # -- normalisation -------------------------------------------------------------------

    def _public_collection_id(self, d: dict[str, Any], *, listed: bool) -> str | None:
        raw = d.get("id")
        if not isinstance(raw, str):
            return None
        owner = d.get("owner") if isinstance(d.get("owner"), str) else None
        if ":" in raw:
            return raw
        segment = _last_segment(_link_href(d, "self"))
        if segment and ":" in segment and segment.split(":", 1)[1] in (raw, raw.partition("_")[2]):
            return segment
        if owner:
            if listed and raw.startswith(owner + "_"):
                return f"{owner}:{raw[len(owner) + 1 :]}"
            return f"{owner}:{raw}"
        if self._owner_mapping and "_" in raw:
            prefix, _, short = raw.partition("_")
            return f"{prefix}:{short}"
        return raw

    def _normalise_collection_dict(self, d: dict[str, Any], *, listed: bool = False) -> None:
        public = self._public_collection_id(d, listed=listed)
        if public is None:
            return
        d["id"] = public
        if ":" in public:
            d.setdefault("owner", public.split(":", 1)[0])

    def _normalise_item_dict(self, d: dict[str, Any], *, searched: bool = True) -> None:
        raw = d.get("collection")
        properties = d.get("properties")
        if not isinstance(raw, str) or not isinstance(properties, dict):
            return
        owner = properties.get("owner") if isinstance(properties.get("owner"), str) else None
        if ":" in raw:
            public = raw
        else:
            segment = _last_segment(_link_href(d, "collection"))
            if segment and ":" in segment:
                public = segment
            elif owner:
                quirk = searched and raw.startswith(owner + "_")
                public = f"{owner}:{raw[len(owner) + 1 :]}" if quirk else f"{owner}:{raw}"
            elif self._owner_mapping and "_" in raw:
                prefix, _, short = raw.partition("_")
                public = f"{prefix}:{short}"
            else:
                return
        d["collection"] = public
        if ":" in public:
            properties.setdefault("owner", public.split(":", 1)[0])

    def _normalise(self, obj: Modifiable) -> None:
        """pystac-client modifier: one shape for every collection and item, then the user's."""
        if isinstance(obj, dict):
            kind = obj.get("type")
            if kind == "FeatureCollection":
                for feature in obj.get("features") or []:
                    if isinstance(feature, dict):
                        self._normalise_item_dict(feature)
            elif kind == "Feature":
                self._normalise_item_dict(obj)
            elif kind == "Collection":
                self._normalise_collection_dict(obj)
        elif isinstance(obj, pystac.ItemCollection):
            for item in obj.items:
                self._normalise_item(item)
        elif isinstance(obj, pystac.Item):
            self._normalise_item(obj)
        elif isinstance(obj, pystac.Collection):
            d: dict[str, Any] = {
                "id": obj.id,
                "owner": obj.extra_fields.get("owner"),
                "links": [],
            }
            self._normalise_collection_dict(d)
            obj.id = d["id"]
            if d.get("owner"):
                obj.extra_fields["owner"] = d["owner"]
        call_modifier(self._user_modifier, obj)

    def _normalise_item(self, item: pystac.Item) -> None:
        d: dict[str, Any] = {
            "collection": item.collection_id,
            "properties": item.properties,
            "links": [],
        }
        self._normalise_item_dict(d)
        item.collection_id = d["collection"]

    def _collection_from_dict(
        self, d: dict[str, Any], public: str | None = None
    ) -> CollectionClient:
        if public is not None:
            d["id"] = public
            d.setdefault("owner", public.split(":", 1)[0])
        else:
            self._normalise_collection_dict(d)
        with _readable("a collection"):
            collection = CollectionClient.from_dict(d, root=self, modifier=self.modifier)
        call_modifier(self._user_modifier, collection)
        return collection

    def _item_from_dict(self, d: dict[str, Any], public: str | None = None) -> pystac.Item:
        if public is not None:
            d["collection"] = public
            if isinstance(d.get("properties"), dict):
                d["properties"].setdefault("owner", public.split(":", 1)[0])
        else:
            self._normalise_item_dict(d, searched=False)
        with _readable("an item"):
            item = build_item(d)  # = Item.from_dict(d, root=self, preserve_dict=False)
            _set_root(item, self)
        call_modifier(self._user_modifier, item)
        return item

    # -- reading -------------------------------------------------------------------------

    def _json(self, response: requests.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError as err:
            raise _bad_answer(response, f"{what}: the answer is not JSON") from err

    def _stac_object(self, response: requests.Response, what: str, stac_type: str) -> Any:
        body = self._json(response, what)
        if not isinstance(body, dict) or body.get("type") != stac_type:
            raise _bad_answer(response, f"{what}: the answer is not a STAC {stac_type.lower()}")
        return body

    def get_collection(  # type: ignore[override]
        self, collection_id: str, owner_id: str | None = None
    ) -> CollectionClient:
        """One collection (cached until this client writes something).

        ``collection_id`` is short (``"s1_aux"``, owner from ``owner_id`` or the client) or
        public (``"alice:s1_aux"``). The answer's ``id`` is the public id.
        Missing: :class:`~rs_core.NotFoundError` (pystac-client would return ``None``).

        >>> catalog.get_collection("s1_aux").id                       # doctest: +SKIP
        'alice:s1_aux'
        """
        owner, short = self._split(collection_id, owner_id)
        public = f"{owner}:{short}"
        cached = self._collection_cache.get(public)
        if cached is not None:
            return cached  # type: ignore[return-value]
        what = f"Getting collection {public} failed"
        response = self.stac_io.send("GET", self._collection_url(owner, short), what=what)
        body = self._stac_object(response, what, "Collection")
        collection = self._collection_from_dict(body, public)
        self._collection_cache[public] = collection
        return collection

    def get_collections(self, owner_id: str | None = None) -> Iterator[pystac.Collection]:
        """Every collection the key may read (lazily paged), or only ``owner_id``'s.

        >>> [c.id for c in catalog.get_collections(owner_id="alice")]   # doctest: +SKIP
        ['alice:s1_aux', 'alice:s2_l0']
        """
        owner = None if owner_id is None else sanitize_owner_id(owner_id)
        url = f"{self._catalog_href}/collections"
        for page in self.stac_io.get_pages(url):
            if "collections" not in page:
                raise BadResponseError(f"Listing collections failed: no 'collections' in {url}")
            listed = page["collections"]
            if not isinstance(listed, list) or not all(isinstance(d, dict) for d in listed):
                raise BadResponseError(f"Listing collections failed: a bad 'collections' in {url}")
            for d in listed:
                self._normalise_collection_dict(d, listed=True)
                if owner is not None and d.get("owner") != owner:
                    continue
                with _readable("a listed collection"):
                    collection = CollectionClient.from_dict(d, root=self, modifier=self.modifier)
                call_modifier(self._user_modifier, collection)
                yield collection

    def collection_exists(self, collection_id: str, owner_id: str | None = None) -> bool:
        """True when the collection exists (asks the server, not the cache)."""
        owner, short = self._split(collection_id, owner_id)
        response = self.stac_io.send(
            "GET", self._collection_url(owner, short), ok=(404,), what="Checking a collection"
        )
        return response.status_code != 404

    def get_item(
        self,
        id: str,
        recursive: bool = False,
        *,
        collection_id: str | None = None,
        owner_id: str | None = None,
    ) -> pystac.Item:
        """One item of a collection (``collection_id``), else searched in the owner's.

        Missing: :class:`~rs_core.NotFoundError`. The item id is URL-encoded: ``/ ? # ..``
        never change the path.

        >>> catalog.get_item("S1A.SAFE", collection_id="s1_l0").collection_id  # doctest: +SKIP
        'alice:s1_l0'
        """
        _check_id(id, "item id")
        if collection_id is None:
            found = next(iter(self.search(ids=[id], owner_id=owner_id, max_items=1).items()), None)
            if found is None:
                raise NotFoundError(f"No item {id!r} in the collections of {self._owner(owner_id)}")
            return found
        owner, short = self._split(collection_id, owner_id)
        what = f"Getting item {id!r} of {owner}:{short} failed"
        response = self.stac_io.send("GET", self._item_url(owner, short, id), what=what)
        body = self._stac_object(response, what, "Feature")
        return self._item_from_dict(body, f"{owner}:{short}")

    def get_items(
        self,
        *ids: str,
        recursive: bool | None = None,
        collection_id: str | None = None,
        owner_id: str | None = None,
        max_items: int | None = None,
    ) -> Iterator[pystac.Item]:
        """Items of one collection (lazily paged), else of all the owner's collections.

        ``ids`` keeps only those items; ``max_items`` stops early.

        >>> [i.id for i in catalog.get_items(collection_id="s1_l0", max_items=2)]  # doctest: +SKIP
        ['S1A_2', 'S1A_1']
        """
        _check_max_items(max_items)
        if collection_id is None:
            search = self.search(ids=list(ids) or None, owner_id=owner_id, max_items=max_items)
            yield from search.items()
            return
        owner, short = self._split(collection_id, owner_id)
        public = f"{owner}:{short}"
        wanted = set(ids)
        count = 0
        url = f"{self._collection_url(owner, short)}/items"
        for page in self.stac_io.get_pages(url):
            features = page.get("features") or []
            if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
                raise BadResponseError(f"Listing items failed: a bad 'features' in {url}")
            for feature in features:
                if wanted and feature.get("id") not in wanted:
                    continue
                yield self._item_from_dict(feature, public)
                count += 1
                if max_items is not None and count >= max_items:
                    return

    def search(  # type: ignore[override]
        self,
        *,
        method: str | None = "POST",
        max_items: int | None = None,
        limit: int | None = None,
        ids: Iterable[str] | str | None = None,
        collections: Iterable[str | pystac.Collection] | str | None = None,
        bbox: Any = None,
        intersects: Any = None,
        datetime: Any = None,
        query: Any = None,
        filter: Any = None,
        filter_lang: Any = None,
        sortby: Any = None,
        fields: Any = None,
        owner_id: str | None = None,
    ) -> ItemSearch:
        """Search items in the owner's collections (pystac-client's lazy :class:`ItemSearch`).

        ``collections`` are short or public ids (or collections); none means every
        collection of ``owner_id`` (default: this client's owner). ``max_items`` caps the
        total, ``limit`` the page size (pystac-client's meaning; a station search's ``limit``
        caps the total instead). RS-Server's ``/search`` does not count matches:
        ``matched()`` is ``None`` there.

        >>> s = catalog.search(collections=["s1_l0"], datetime="2024-01-01/..", max_items=50)
        ... # doctest: +SKIP
        >>> [item.id for item in s.items()]                                  # doctest: +SKIP
        """
        _check_max_items(max_items)
        if limit is not None and (
            not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10_000
        ):
            raise InvalidInputError(f"limit must be an integer in [1, 10000], got {limit!r}")
        if not self.conforms_to(ConformanceClasses.ITEM_SEARCH):
            raise NotImplementedError(f"The catalog at {self._catalog_href} has no item search")
        if isinstance(collections, (str, pystac.Collection)):
            collections = [collections]
        public: list[str] = []
        if collections is None:
            public = [c.id for c in self.get_collections(owner_id=self._owner(owner_id))]
        else:
            for c in collections:
                if isinstance(c, pystac.Collection):
                    public.append(
                        self.full_collection_id(c.extra_fields.get("owner") or owner_id, c.id)
                    )
                else:
                    public.append(self.full_collection_id(owner_id, c))
        if isinstance(ids, str):
            ids = [ids]
        search_ids = list(ids) if ids is not None else None
        if self._owner_mapping:
            # RS-Server's /search takes its database names (owner_coll), not owner:coll.
            public = [p.replace(":", "_", 1) for p in public]
        if not public or search_ids == []:
            return _EmptySearch(self._search_href(), client=self)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            found = Client.search(
                self,
                method=method,
                max_items=max_items,
                limit=limit,
                ids=search_ids,
                collections=public,
                bbox=bbox,
                intersects=intersects,
                datetime=datetime,
                query=query,
                filter=filter,
                filter_lang=filter_lang,
                sortby=sortby,
                fields=fields,
            )
        found.__class__ = _CheckedSearch  # same state; its pages are read with typed errors
        return found

    # -- writing -------------------------------------------------------------------------

    def _forget(self) -> None:
        self._collection_cache.clear()

    def _collection_body(
        self, collection: pystac.Collection, owner: str, short: str, add_public_license: bool
    ) -> dict[str, Any]:
        d = copy.deepcopy(collection.to_dict(include_self_link=False, transform_hrefs=False))
        d["id"] = short if self._owner_mapping else f"{owner}:{short}"
        d["owner"] = owner
        if not (isinstance(d.get("description"), str) and d["description"].strip()):
            d["description"] = f"This is the collection {short} from user {owner}."
        links = [
            link
            for link in d.get("links", [])
            if link.get("rel") not in _SERVER_LINKS and link.get("href")
        ]
        if add_public_license:
            d["license"] = PUBLIC_LICENSE
            links = [link for link in links if link.get("rel") != "license"]
            links.append(
                {
                    "rel": "license",
                    "href": PUBLIC_LICENSE_URL,
                    "type": "text/html",
                    "title": "Public Domain License",
                }
            )
        d["links"] = links
        return d

    def _item_body(self, item: pystac.Item, owner: str, short: str) -> dict[str, Any]:
        if not isinstance(item, pystac.Item):
            raise InvalidInputError(f"item must be a pystac.Item, got {type(item).__name__}")
        d = _unshared(item, item.to_dict(include_self_link=False, transform_hrefs=False))
        d["collection"] = short if self._owner_mapping else f"{owner}:{short}"
        d["links"] = [
            link
            for link in d.get("links", [])
            if link.get("rel") not in _SERVER_LINKS and link.get("href")
        ]
        return d

    def _written_body(self, response: requests.Response) -> Any:
        """The JSON answer of a write; ``None`` if empty. Not JSON (a proxy's page, garbage):
        :class:`~rs_core.BadResponseError`, since then nobody knows whether it was written."""
        if not response.content.strip():
            return None
        return self._json(response, "The server's answer to a write is unreadable")

    def _written_collection(
        self, response: requests.Response, public: str, fallback: dict[str, Any]
    ) -> CollectionClient:
        body = self._written_body(response)
        if isinstance(body, dict) and body.get("type") == "Collection" and "extent" in body:
            return self._collection_from_dict(body, public)
        return self._collection_from_dict(copy.deepcopy(fallback), public)

    def _written_item(
        self, response: requests.Response, public: str, fallback: dict[str, Any], what: str
    ) -> pystac.Item:
        """The item a 2xx answer to a write returned; an answer that is not the written item
        (another shape, another id, empty) is verified by reading the item back: stored, it
        is returned; not stored, a :class:`~rs_core.BadResponseError` (never a false success).
        """
        body = self._written_body(response)
        if (
            isinstance(body, dict)
            and body.get("type") == "Feature"
            and isinstance(body.get("properties"), dict)
            and body.get("id") == fallback.get("id")
        ):
            return self._item_from_dict(body, public)
        owner, short = public.split(":", 1)
        url = self._item_url(owner, short, str(fallback.get("id")))
        shape = "an empty body" if body is None else f"a JSON {type(body).__name__}"
        if isinstance(body, dict):
            keys = ", ".join(reprlib.repr(k) for k in list(body)[:5])
            shape = f"an object that is not the item (keys: {keys})"
        problem = f"{what}: the server answered HTTP {response.status_code} with {shape}"
        try:
            check = self.stac_io.send("GET", url, ok=(404,), what=f"{what}: reading it back")
        except RsError as err:
            raise _bad_answer(
                response, f"{problem}, and reading the item back failed ({err.message})"
            ) from err
        stored = self._json(check, what) if check.status_code != 404 else None
        if not _same_item(stored, fallback):
            raise _bad_answer(
                response,
                f"{problem}, and the item is not stored (GET {url}: HTTP {check.status_code})",
            )
        return self._item_from_dict(cast(dict[str, Any], stored), public)

    def add_collection(
        self,
        collection: pystac.Collection,
        add_public_license: bool = True,
        owner_id: str | None = None,
        timeout: float | None = None,
    ) -> CollectionClient:
        """Create a collection owned by ``owner_id`` (default: this client's owner).

        The body has the short id and a top-level ``owner``; unless ``add_public_license`` is
        false, ``license`` is ``public-domain`` with a ``license`` link to
        ``https://creativecommons.org/licenses/publicdomain/``; an empty description becomes
        ``This is the collection {id} from user {owner}.``. The body is checked offline
        before sending (:class:`~rs_core.InvalidInputError`). ``collection`` is never
        modified. Exists already: :class:`~rs_core.ConflictError`.

        >>> extent = pystac.Extent(pystac.SpatialExtent([[-180, -90, 180, 90]]),
        ...                        pystac.TemporalExtent([[None, None]]))
        >>> catalog.add_collection(pystac.Collection("s1_l0", "", extent)).id  # doctest: +SKIP
        'alice:s1_l0'
        """
        return self._write_collection("POST", collection, owner_id, add_public_license, timeout)

    def update_collection(
        self,
        collection: pystac.Collection,
        owner_id: str | None = None,
        add_public_license: bool = False,
        timeout: float | None = None,
    ) -> CollectionClient:
        """Replace a collection (``PUT``), built and checked as in :meth:`add_collection`.

        The license is sent as given unless ``add_public_license``. Missing:
        :class:`~rs_core.NotFoundError`.

        >>> c = catalog.get_collection("s1_l0"); c.title = "Sentinel-1 L0"   # doctest: +SKIP
        >>> catalog.update_collection(c).title                               # doctest: +SKIP
        'Sentinel-1 L0'
        """
        return self._write_collection("PUT", collection, owner_id, add_public_license, timeout)

    def _write_collection(
        self,
        method: str,
        collection: pystac.Collection,
        owner_id: str | None,
        add_public_license: bool,
        timeout: float | None,
    ) -> CollectionClient:
        """POST (create, never retried) or PUT (replace) a collection, checked before sending."""
        if not isinstance(collection, pystac.Collection):
            raise InvalidInputError(
                f"collection must be a pystac.Collection, got {type(collection).__name__}"
            )
        owner_hint = owner_id or collection.extra_fields.get("owner")
        owner, short = self._split(collection.id, owner_hint)
        body = self._collection_body(collection, owner, short, add_public_license)
        validate_collection(body)
        self._forget()
        creating = method == "POST"
        response = self.stac_io.send(
            method,
            f"{self._catalog_href}/collections" if creating else self._collection_url(owner, short),
            json_body=body,
            timeout=timeout,
            retry=False if creating else None,
            what=f"{'Adding' if creating else 'Updating'} collection {owner}:{short} failed",
        )
        return self._written_collection(response, f"{owner}:{short}", body)

    def remove_collection(
        self, collection_id: str, owner_id: str | None = None, timeout: float | None = None
    ) -> None:
        """Delete a collection and its items. Missing: :class:`~rs_core.NotFoundError`.

        >>> catalog.remove_collection("s1_l0")                                # doctest: +SKIP
        """
        owner, short = self._split(collection_id, owner_id)
        self._forget()
        self.stac_io.send(
            "DELETE",
            self._collection_url(owner, short),
            timeout=timeout,
            what=f"Removing collection {owner}:{short} failed",
        )

    def add_item(  # type: ignore[override]  # the seed API, not pystac's
        self,
        collection_id: str,
        item: pystac.Item,
        owner_id: str | None = None,
        timeout: float | None = None,
    ) -> pystac.Item:
        """Add ``item`` to a collection; returns the item as stored (``item`` is not modified).

        Checked offline first (STAC fields; with RS-Server's rules, ``s3://`` asset hrefs named
        like their asset key): :class:`~rs_core.InvalidInputError`. Duplicate:
        :class:`~rs_core.ConflictError`; missing collection: :class:`~rs_core.NotFoundError`
        (also when a bare pgstac answers 500, after a GET proves the collection missing).

        >>> stored = catalog.add_item("s1_l0", item)                          # doctest: +SKIP
        >>> stored.properties["owner"]                                        # doctest: +SKIP
        'alice'
        """
        owner, short = self._split(collection_id, owner_id)
        body = self._item_body(item, owner, short)
        validate_item(body, rs_server_rules=self._rs_server_rules)
        self._forget()
        what = f"Adding item {body['id']!r} to {owner}:{short} failed"
        try:
            response = self.stac_io.send(
                "POST",
                f"{self._collection_url(owner, short)}/items",
                json_body=body,
                timeout=timeout,
                retry=False,
                what=what,
            )
        except ServerError as err:
            self._missing_collection_instead(err, owner, short, what)
            raise
        return self._written_item(response, f"{owner}:{short}", body, what)

    def _missing_collection_instead(
        self, err: ServerError, owner: str, short: str, what: str
    ) -> None:
        """pgstac answers 500 for an item posted to a missing collection: prove it, say it."""
        self._fresh_connections()
        if not self._exists(self._collection_url(owner, short)):
            raise err.recast(
                NotFoundError,
                f"{what}: the collection {owner}:{short} does not exist",
            ) from err

    def _fresh_connections(self) -> None:
        # After a 5xx some servers reset the kept-alive connection: drop the idle ones.
        for adapter in self.http.session.adapters.values():
            adapter.close()

    def add_items(  # type: ignore[override]  # the seed API, not pystac's
        self,
        collection_id: str,
        items: Iterable[pystac.Item],
        owner_id: str | None = None,
        timeout: float | None = None,
        *,
        bulk: bool | None = None,
        chunk_size: int = 1000,
        max_workers: int = 4,
    ) -> list[ItemResult]:
        """Add many items; one :class:`ItemResult` per item, in order.

        Each item is checked offline first (a bad one gets its
        :class:`~rs_core.InvalidInputError`, the others go on). Where the server has the bulk
        endpoint (RS-Server 1.0's catalog, stac-fastapi-pgstac:
        ``POST .../collections/{owner}:{c}/bulk_items``), the items go in chunks of
        ``chunk_size``, one transaction each; a stored item is then reported with the body sent
        (the endpoint does not answer the items). A chunk the server refuses (a duplicate, an
        item it rejects) is added again item by item, so that each item keeps its own outcome.
        Without the endpoint (detected once per client: ``bulk=None``), or with
        ``bulk=False``, the items are added one request each, ``max_workers`` at a time.

        >>> results = catalog.add_items("s1_l0", items)                       # doctest: +SKIP
        >>> [r.item_id for r in results if not r.ok]                          # doctest: +SKIP
        ['duplicate_one']
        """
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise InvalidInputError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise InvalidInputError(f"max_workers must be a positive integer, got {max_workers!r}")
        owner, short = self._split(collection_id, owner_id)
        listed = list(items)
        results: list[ItemResult | None] = [None] * len(listed)
        repeated: list[Entry] = []  # an id after its first, alone
        self._forget()
        use_bulk = self._bulk_items if bulk is None else bulk
        one_by_one: list[Entry] = []
        chunks = self._checked_chunks(
            listed, owner, short, chunk_size=chunk_size, results=results, repeated=repeated
        )
        if use_bulk is False:
            for chunk in chunks:
                one_by_one.extend(chunk)
        else:
            one_by_one = self._bulk_chunks(
                owner, short, chunks, use_bulk=use_bulk, timeout=timeout, results=results
            )

        def add(entry: Entry) -> None:
            index, item, _ = entry
            try:
                stored = self.add_item(collection_id, item, owner_id=owner_id, timeout=timeout)
            except RsError as err:
                results[index] = ItemResult(str(item.id), ok=False, error=err)
            else:
                results[index] = ItemResult(stored.id, ok=True, item=stored)

        if max_workers == 1 or len(one_by_one) < 2:
            for entry in one_by_one:
                add(entry)
        else:
            with ThreadPoolExecutor(max_workers, thread_name_prefix="rs-add-items") as pool:
                list(pool.map(add, one_by_one))
        for entry in repeated:  # an id given twice: the first wins, as one by one in order
            add(entry)
        return [r for r in results if r is not None]

    def _checked_chunks(
        self,
        listed: list[pystac.Item],
        owner: str,
        short: str,
        *,
        chunk_size: int,
        results: list[ItemResult | None],
        repeated: list[Entry],
    ) -> Iterator[list[Entry]]:
        """The items of ``listed`` with their bodies, checked offline, ``chunk_size`` at a
        time (made as they are asked for). An item that fails its check gets its result; an id
        seen before goes to ``repeated``."""
        seen: set[str] = set()
        chunk: list[Entry] = []
        for index, item in enumerate(listed):
            try:
                body = self._item_body(item, owner, short)
                validate_item(body, rs_server_rules=self._rs_server_rules)
            except RsError as err:
                results[index] = ItemResult(str(getattr(item, "id", repr(item))), False, error=err)
                continue
            if body["id"] in seen:
                repeated.append((index, item, body))
                continue
            seen.add(body["id"])
            chunk.append((index, item, body))
            if len(chunk) == chunk_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _bulk_chunks(
        self,
        owner: str,
        short: str,
        chunks: Iterator[list[Entry]],
        *,
        use_bulk: bool | None,
        timeout: float | None,
        results: list[ItemResult | None],
    ) -> list[Entry]:
        """Each chunk posted in bulk, in order, one request at a time; the entries to add one
        by one returned (the chunks the server refused, all of them without the endpoint).

        Once the endpoint is known to be there, the client's own work overlaps the server's:
        the next chunk is checked, and the results of the previous one built, while a chunk is
        on the wire (one thread sends; still one request at a time, in order)."""
        public = f"{owner}:{short}"
        one_by_one: list[Entry] = []
        with ThreadPoolExecutor(1, thread_name_prefix="rs-add-items-bulk") as sender:
            flight: tuple[Future[bool], list[Entry]] | None = None
            stored: list[Entry] = []  # the last chunk the server stored: results to build

            def landed(flight: tuple[Future[bool], list[Entry]]) -> None:
                nonlocal use_bulk
                future, chunk = flight
                if future.result():
                    use_bulk = self._bulk_items = True
                    stored.extend(chunk)
                else:
                    use_bulk = False if self._bulk_items is False else use_bulk
                    one_by_one.extend(chunk)

            for chunk in chunks:  # checked while the previous chunk is on the wire
                if flight is not None and use_bulk is not True:
                    landed(flight)  # whether the endpoint is there is not known yet: wait
                    flight = None
                if use_bulk is False:
                    one_by_one.extend(chunk)
                    continue
                ahead = sender.submit(self._post_bulk, owner, short, chunk, timeout)
                if flight is not None:
                    landed(flight)
                flight = (ahead, chunk)
                self._stored_results(stored, public, results)  # while ``ahead`` is sent
            if flight is not None:
                landed(flight)
            self._stored_results(stored, public, results)
        return one_by_one

    def _stored_results(
        self, stored: list[Entry], public: str, results: list[ItemResult | None]
    ) -> None:
        """The results of the entries the server stored in bulk (``stored`` emptied)."""
        for index, _, body in stored:
            item = self._item_from_dict(body, public)  # the body sent is free now: no copy
            results[index] = ItemResult(item.id, ok=True, item=item)
        stored.clear()

    def _post_bulk(self, owner: str, short: str, chunk: list[Entry], timeout: float | None) -> bool:
        """One bulk insert of ``chunk``; True when the server stored it all. False when the
        chunk must go item by item: the server has no bulk endpoint (then remembered), or
        refused the chunk (a duplicate, a rejected item, any error)."""
        public = f"{owner}:{short}"
        url = f"{self._collection_url(owner, short)}/bulk_items"
        payload = {"items": {body["id"]: body for _, _, body in chunk}, "method": "insert"}
        what = f"Adding {len(chunk)} items to {public} in bulk failed"
        try:
            response = self.stac_io.send(
                "POST", url, json_body=payload, timeout=timeout, retry=False, what=what
            )
        except (NotFoundError, RequestRejectedError) as err:
            if err.status in (404, 405) and self._exists(self._collection_url(owner, short)):
                self._bulk_items = False  # the collection is there, the endpoint is not
                self.logger.debug("%s has no bulk_items endpoint: items go one by one", public)
            else:
                self.logger.debug("bulk insert refused (%s): items go one by one", err)
            return False
        except RsError as err:
            self.logger.debug("bulk insert failed (%s): items go one by one", err)
            return False
        return 200 <= response.status_code < 300

    def publish(
        self,
        collection_id: str,
        files: Iterable[Any],
        *,
        s3_path: str | None = None,
        hrefs: Mapping[str, str] | None = None,
        report: Any = None,
        create_collection: bool = True,
        owner_id: str | None = None,
        timeout: float | None = None,
    ) -> list[ItemResult]:
        """Publish staged station files (their search items) as items of ``collection_id``.

        Each file's asset is its staged ``s3://`` href (``hrefs[id]``, the destination
        ``rs stage -o ndjson`` recorded, or ``{s3_path}/{id}``); with the ``report`` of
        ``stage_and_wait`` only files that ended ``DONE`` are posted. A missing collection is
        created. See :func:`rs_catalog.publish.publish`.

        >>> report = cadip.stage_and_wait(files, s3_path="s3://bucket/cadu")  # doctest: +SKIP
        >>> catalog.publish("s1_cadu", files, s3_path="s3://bucket/cadu",
        ...                 report=report)                                    # doctest: +SKIP
        [ItemResult('DCS_01_..._DSDB_00001.raw', ok), ...]
        """
        from rs_catalog.publish import publish

        return publish(
            self,
            collection_id,
            files,
            s3_path=s3_path,
            hrefs=hrefs,
            report=report,
            create_collection=create_collection,
            owner_id=owner_id,
            timeout=timeout,
        )

    def update_item(
        self,
        collection_id: str,
        item: pystac.Item,
        owner_id: str | None = None,
        timeout: float | None = None,
    ) -> pystac.Item:
        """Replace an item (``PUT``). Missing: :class:`~rs_core.NotFoundError`.

        >>> item.properties["platform"] = "S1A"                               # doctest: +SKIP
        >>> catalog.update_item("s1_l0", item).properties["platform"]         # doctest: +SKIP
        'S1A'
        """
        owner, short = self._split(collection_id, owner_id)
        body = self._item_body(item, owner, short)
        validate_item(body, rs_server_rules=self._rs_server_rules)
        self._forget()
        url = self._item_url(owner, short, body["id"])
        what = f"Updating item {body['id']!r} of {owner}:{short} failed"
        try:
            response = self.stac_io.send("PUT", url, json_body=body, timeout=timeout, what=what)
        except (RequestRejectedError, ServerError) as err:
            # rs-server-catalog answers 400 for an update of a missing item: prove it, say it.
            if isinstance(err, ServerError):
                self._fresh_connections()
            if not self._exists(url):
                raise err.recast(
                    NotFoundError,
                    f"{what}: no such item",
                ) from err
            raise
        return self._written_item(response, f"{owner}:{short}", body, what)

    def _exists(self, url: str) -> bool:
        """False only when a GET of ``url`` answers 404 (any other failure: True)."""
        try:
            response = self.stac_io.send("GET", url, ok=(404,), what="Checking existence")
        except RsError:
            return True
        return response.status_code != 404

    def remove_item(  # type: ignore[override]  # the seed API, not pystac's
        self,
        collection_id: str,
        item_id: str,
        owner_id: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Delete one item. Missing: :class:`~rs_core.NotFoundError`.

        >>> catalog.remove_item("s1_l0", "S1A.SAFE")                          # doctest: +SKIP
        """
        owner, short = self._split(collection_id, owner_id)
        self._forget()
        self.stac_io.send(
            "DELETE",
            self._item_url(owner, short, item_id),
            timeout=timeout,
            what=f"Removing item {item_id!r} of {owner}:{short} failed",
        )


def _bad_answer(response: requests.Response, message: str) -> BadResponseError:
    """A :class:`~rs_core.BadResponseError` naming ``response``'s request and status."""
    return BadResponseError(
        message,
        method=response.request.method if response.request else None,
        url=response.url,
        status=response.status_code,
        response=response,
    )


_SERVER_SET = frozenset({"owner", "published", "updated", "expires", "created"})


def _same_item(stored: Any, sent: dict[str, Any]) -> bool:
    """``stored`` (read back) is the item ``sent``: same id and the same values for every
    property sent, except those the server sets itself (``updated``, ``owner``...)."""
    if not isinstance(stored, dict) or stored.get("id") != sent.get("id"):
        return False
    mine, theirs = sent.get("properties") or {}, stored.get("properties")
    if not isinstance(theirs, dict):
        return False
    return all(_same_value(theirs.get(k), v) for k, v in mine.items() if k not in _SERVER_SET)


def _same_value(stored: Any, sent: Any) -> bool:
    if stored == sent:
        return True
    if isinstance(stored, str) and isinstance(sent, str):  # a timestamp the server reformatted
        try:
            return bool(parse_datetime(stored) == parse_datetime(sent))
        except InvalidInputError:
            return False
    return False


def _check_max_items(max_items: object) -> None:
    if max_items is not None and (
        not isinstance(max_items, int) or isinstance(max_items, bool) or max_items < 1
    ):
        raise InvalidInputError(f"max_items must be a positive integer or None, got {max_items!r}")


@contextlib.contextmanager
def _readable(what: str) -> Iterator[None]:
    """pystac's errors on a malformed answer (``KeyError``, ``ValueError``, ``STACTypeError``,
    ``AttributeError``...) become a :class:`~rs_core.BadResponseError`."""
    try:
        yield
    except RsError:
        raise
    except Exception as err:
        reason = reprlib.repr(f"{type(err).__name__}: {err}")[1:-1]
        raise BadResponseError(
            f"The catalog answered {what} pystac cannot read ({reason})"
        ) from err


class _CheckedSearch(ItemSearch):
    """pystac-client's :class:`ItemSearch` whose malformed pages raise a typed error."""

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.get_parameters().items() if v not in (None, [], "", ())}
        parts = [f"{k}={list(v) if isinstance(v, tuple) else v!r}" for k, v in shown.items()]
        if self._max_items is not None:
            parts.append(f"max_items={self._max_items}")
        return f"<catalog search {self.url}{' ' if parts else ''}{', '.join(parts)}>"

    __str__ = __repr__

    def pages_as_dicts(self) -> Iterator[dict[str, Any]]:
        for page in super().pages_as_dicts():
            features = page.get("features")
            if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
                raise BadResponseError(
                    "The catalog's search answered a page without a list of features",
                    url=self.url,
                )
            for feature in features:  # items are built later: refuse what pystac cannot read
                problem = _feature_problem(feature)
                if problem:
                    ident = reprlib.repr(feature.get("id"))
                    raise BadResponseError(
                        f"The catalog answered a search page pystac cannot read: feature "
                        f"{ident} is not a valid STAC item ({problem})",
                        url=self.url,
                    )
            yield page

    def pages(self) -> Iterator[pystac.ItemCollection]:
        # pystac-client builds every item of a page, then ItemCollection clones each one it
        # has just built (stac-utils/pystac-client#842). Here a page holds its decoded
        # features and builds each item (with the client as root, as pystac-client's) when
        # touched, without the clone.
        build = functools.partial(_search_item, root=self.client)
        for page in self.pages_as_dicts():
            extra = {k: v for k, v in page.items() if k not in ("features", "type")}
            yield lazy_item_collection(page["features"], extra, build)

    def items(self) -> Iterator[pystac.Item]:
        # One item built at a time, and each feature let go once built: iterating holds at
        # most a page of decoded features, whatever the number of items.
        for page in self.pages_as_dicts():
            features = page["features"]
            for index in range(len(features)):
                feature, features[index] = features[index], None
                yield _search_item(feature, self.client)

    def item_collection(self) -> pystac.ItemCollection:  # type: ignore[override]
        """Every result, items built when touched (fetched once, as pystac-client's)."""
        cached = self.__dict__.get("_rs_item_collection")
        if cached is None:
            features: list[dict[str, Any]] = []
            for page in self.pages_as_dicts():
                features.extend(page["features"])
            build = functools.partial(_search_item, root=self.client)
            cached = lazy_item_collection(features, None, build)
            self.__dict__["_rs_item_collection"] = cached
        return cast(pystac.ItemCollection, cached)


def _feature_problem(feature: dict[str, Any]) -> str:
    """Why pystac cannot read ``feature`` as an item (cheap checks), or ``""``."""
    if feature.get("type") != "Feature" or "stac_version" not in feature:
        return "not a STAC Feature (type, stac_version)"
    if not isinstance(feature.get("id"), str):
        return "no id"
    properties = feature.get("properties")
    if not isinstance(properties, dict):
        return "properties is not an object"
    if properties.get("datetime") is None and not (
        properties.get("start_datetime") and properties.get("end_datetime")
    ):
        return "no datetime and no start/end datetime"
    return ""


def _search_item(feature: dict[str, Any], root: Client | None) -> pystac.Item:
    with _readable("a search page"):
        item = build_item(feature)
        if root is not None:
            _set_root(item, root)
        return item


def _set_root(item: pystac.Item, root: pystac.Catalog) -> None:
    """``item.set_root(root)`` (its root link points at ``root``: ``get_root()`` is ``root``)
    without entering ``item`` in ``root``'s cache of resolved objects, which would hold every
    item a client ever returned: iterating a search would then keep them all."""
    link = pystac.Link.root(root)
    for index, existing in enumerate(item.links):
        if existing.rel == pystac.RelType.ROOT:
            item.links[index] = link
            link.set_owner(item)
            return
    item.add_link(link)


class _EmptySearch(_CheckedSearch):
    """A search known to match nothing (the owner has no collections): sends no request."""

    def __init__(self, url: str, client: Client) -> None:
        super().__init__(url, client=client, stac_io=client._stac_io)

    def pages_as_dicts(self) -> Iterator[dict[str, Any]]:
        return iter(())

    def matched(self) -> int | None:  # type: ignore[override]
        return 0

    def __repr__(self) -> str:
        return f"<catalog search {self.url}: matches nothing (no collection to search)>"

    __str__ = __repr__
