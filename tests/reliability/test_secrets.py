"""Secret hygiene: the API key, the session cookie, the bearer token and the stored login never
show anywhere but in the header to the configured server.

Everything captured is grepped for the key: every log record at DEBUG (root logger, urllib3,
pystac_client, rs_core...), every exception's ``str``/``repr``/``args`` along its ``__cause__``
and ``__context__`` chain (and the objects it keeps, e.g. the response), the ``repr``/``str`` of
every object reachable from the clients, settings, records and reports, the output of the ``rs``
command line (``--debug`` tracebacks included), and the headers of every request that reached
"another host" (a second simulator on 127.0.0.2): redirects, ``next`` links, asset hrefs.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pystac
import pytest
from reliability_support import API_KEY, FAST, OWNER, USER

from rs_core.auth import clear_apikey_cache
from rs_core.client import RsClient
from rs_core.errors import RsError
from rs_core.http import APIKEY_HEADER, Secret
from rs_core.testing.kit.catalog import make_collection, make_item
from rs_core.testing.simulator import ApiKey, Fault, RsServerSimulator
from rs_core.testing.simulator.auth import OAuth2Provider, SessionSigner

LEAKS: list[str] = []
TOKEN = "rel-bearer-t0ken-3e5a7c9b1d"
PROVIDER = OAuth2Provider(SessionSigner("rel-cookie-secret"))
PROVIDER.tokens[TOKEN] = PROVIDER.add_user(
    USER, "rel-password-1f2e", ApiKey.full_access(USER).iam_roles
)
COOKIE = PROVIDER.cookie_for(USER)
SECRETS = (API_KEY, COOKIE, TOKEN, COOKIE.split(".")[-1])  # the cookie's signature alone too
CREDENTIAL_HEADERS = {"x-api-key", "cookie", "authorization"}


def _scan(where: str, text: str) -> None:
    for secret in SECRETS:
        if secret in text:
            LEAKS.append(f"{where}: ...{text[max(0, text.find(secret) - 80) :][:160]}...")


@pytest.fixture(scope="module")
def sim() -> Iterator[RsServerSimulator]:
    with RsServerSimulator(
        api_keys={API_KEY: ApiKey.full_access(USER)}, staging_duration=0.05, oauth2=PROVIDER
    ) as server:
        yield server


@pytest.fixture(scope="module")
def other_host() -> Iterator[RsServerSimulator]:
    """'Another host': a second simulator on 127.0.0.2 (local mode: it answers anyone)."""
    with RsServerSimulator(host="127.0.0.2") as server:
        yield server


@pytest.fixture
def clean(sim: RsServerSimulator, other_host: RsServerSimulator) -> Iterator[None]:
    for server in (sim, other_host):
        server.clear_faults()
        server.clear_requests()
    LEAKS.clear()
    yield
    for server in (sim, other_host):
        server.clear_faults()


class _Everything(logging.Handler):
    """Formats every record (with exception text) the way a handler would print it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def all_logs() -> Iterator[_Everything]:
    handler = _Everything()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    loggers = [logging.getLogger(n) for n in ("urllib3", "pystac_client", "pystac", "rs_core")]
    old = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)
    for lg, level in zip(loggers, old, strict=True):
        lg.setLevel(level)


# -- walking what is reachable -------------------------------------------------------------


def _reachable(root: object, limit: int = 4000) -> Iterator[object]:
    """Objects reachable from ``root`` through attributes, items and error chains."""
    seen: set[int] = set()
    todo: list[tuple[object, int]] = [(root, 0)]
    while todo and len(seen) < limit:
        obj, depth = todo.pop()
        if id(obj) in seen or depth > 7:
            continue
        seen.add(id(obj))
        yield obj
        if isinstance(obj, (str, bytes, int, float, bool, type(None), Secret, type)):
            continue  # a Secret is opaque by design: only its str/repr count
        if callable(obj) and not hasattr(obj, "__dict__"):
            continue
        children: list[object] = []
        if isinstance(obj, dict):
            children += list(obj.keys()) + list(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            children += list(obj)
        if isinstance(obj, BaseException):
            children += [obj.__cause__, obj.__context__, *obj.args]
        for name in getattr(obj, "__slots__", ()):
            if hasattr(obj, name):
                children.append(getattr(obj, name))
        if hasattr(obj, "__dict__") and not isinstance(obj, type):
            children += list(vars(obj).values())
        todo += [(child, depth + 1) for child in children]


def _scan_object(where: str, root: object) -> int:
    count = 0
    for obj in _reachable(root):
        count += 1
        try:
            texts = [repr(obj), str(obj)]
        except Exception:  # a half-built object may fail to print: not a leak
            continue
        for text in texts:
            _scan(f"{where} -> {type(obj).__name__}", text)
    return count


def _scan_error(where: str, err: BaseException) -> None:
    _scan(where, str(err))
    _scan(where, repr(err))
    _scan_object(where, err)


# -- scenarios -----------------------------------------------------------------------------


def _errors_and_results(
    sim: RsServerSimulator, **credential: str
) -> tuple[list[object], list[BaseException]]:
    """Run every operation, successful and failing; return the results and the errors.

    ``credential`` is ``oauth2_cookie=`` or ``bearer_token=`` (default: the API key)."""
    results: list[object] = []
    errors: list[BaseException] = []

    def attempt(fn: Callable[[], Any]) -> None:
        try:
            results.append(fn())
        except RsError as err:
            errors.append(err)

    rs = RsClient(sim.url, None if credential else API_KEY, http_settings=FAST, **credential)
    auxip, cadip = rs.get_auxip_client(), rs.get_cadip_client("CADIP")
    catalog = rs.get_stac_client()
    results += [rs, auxip, cadip, catalog, rs.http, rs.http.settings, rs.http.session]
    attempt(rs.apikey_info)
    found = auxip.search_stations("2016-01-01", "2030-01-01", limit=3)
    files = cadip.search_files("2019-01-01", "2030-01-01", limit=3)
    results += [found, files, found[0], files[0]]
    attempt(lambda: cadip.search_sessions(start_date="2019-01-01", stop_date="2030-01-01"))
    report = cadip.stage_and_wait([i.id for i in files], poll_interval=0.05, timeout=30)
    results += [report, report.to_dict(), *report.outcomes.values()]
    attempt(lambda: cadip.staging_info(files[0].id))
    attempt(lambda: catalog.add_collection(make_collection("secrets")))
    attempt(lambda: catalog.add_item("secrets", make_item("secret-item")))
    attempt(lambda: catalog.get_collection("secrets"))
    attempt(lambda: catalog.search(collections=["secrets"]).item_collection())
    # and now the failures: each kind of error, from each layer
    for fault in (
        Fault(path="/adgs", kind="status", status=401),
        Fault(path="/adgs", kind="status", status=500, body={"detail": "boom"}),
        Fault(path="/adgs", kind="html", status=502),
        Fault(path="/adgs", kind="reset"),
        Fault(path="/adgs", kind="truncate"),
        Fault(path="/adgs", kind="nonjson"),
        Fault(path="/adgs", kind="wrong_shape"),
        Fault(path="/adgs", kind="hang", delay=3),
    ):
        sim.add_fault(fault)
        attempt(lambda: auxip.search_stations("2016-01-01", "2030-01-01"))
        sim.clear_faults()
    attempt(lambda: cadip.staging("NEVER_RETURNED_BY_A_SEARCH.raw"))
    attempt(lambda: cadip.staging_info("NEVER_STAGED.raw"))
    attempt(lambda: catalog.add_collection(make_collection("secrets")))  # 409
    attempt(lambda: catalog.get_item("missing", collection_id="secrets"))
    sim.add_fault(Fault(path="/catalog/search", kind="nonjson"))
    attempt(lambda: catalog.search(collections=["secrets"]).item_collection())
    sim.clear_faults()
    attempt(lambda: RsClient(sim.url, "wrong-key").apikey_info())
    attempt(
        lambda: (
            RsClient(
                sim.url,
                None if credential else API_KEY,
                http_settings=FAST,
                verify="/nonexistent/ca.pem",
                **credential,
            )
            .get_auxip_client()
            .search_stations("2016-01-01", "2030-01-01")
        )
    )
    results.append(rs.http.session.adapters)
    return results, errors


@pytest.mark.parametrize(
    "credential",
    [{}, {"oauth2_cookie": COOKIE}, {"bearer_token": TOKEN}],
    ids=["api-key", "cookie", "bearer"],
)
def test_key_never_in_logs_errors_or_reprs(
    sim: RsServerSimulator, clean: None, all_logs: _Everything, credential: dict[str, str]
) -> None:
    results, errors = _errors_and_results(sim, **credential)
    assert len(errors) >= 14, [type(e).__name__ for e in errors]
    assert any(" urllib3." in line for line in all_logs.lines), "urllib3 DEBUG logs expected"
    for line in all_logs.lines:
        _scan("log", line)
    for err in errors:
        _scan_error(f"error {type(err).__name__}", err)
    objects = sum(_scan_object(f"result {type(r).__name__}", r) for r in results)
    assert objects > 500, "the walk must reach the clients' insides"
    assert not LEAKS, "\n".join(LEAKS)
    # the credential did travel, in its header, to the configured server (and nothing else)
    header, value = (
        ("cookie", f"session={COOKIE}")
        if "oauth2_cookie" in credential
        else ("authorization", f"Bearer {TOKEN}")
        if credential
        else (APIKEY_HEADER, API_KEY)
    )
    sent = [r.headers.get(header) for r in sim.requests]
    assert sent.count(value) >= 30
    if not credential:
        assert set(sent) <= {API_KEY, "wrong-key"}
    else:
        assert not any(r.headers.get(APIKEY_HEADER) for r in sim.requests if r.headers.get(header))


def _no_key_at(other_host: RsServerSimulator, expected_requests: int) -> None:
    assert len(other_host.requests) >= expected_requests, "the other host was not reached"
    for request in other_host.requests:
        sent = {name.lower() for name in request.headers} & CREDENTIAL_HEADERS
        assert not sent, f"{sent} sent to {request.path}"
        for secret in SECRETS:
            assert secret not in request.raw_path + request.raw_query
            assert secret.encode() not in request.body


@pytest.mark.parametrize(
    "credential",
    [{}, {"oauth2_cookie": COOKIE}, {"bearer_token": TOKEN}],
    ids=["api-key", "cookie", "bearer"],
)
def test_key_never_sent_to_another_host(
    sim: RsServerSimulator,
    other_host: RsServerSimulator,
    clean: None,
    credential: dict[str, str],
) -> None:
    rs = RsClient(sim.url, None if credential else API_KEY, http_settings=FAST, **credential)
    auxip, catalog = rs.get_auxip_client(), rs.get_stac_client()
    name = "hosts_" + "".join(credential)[:6]
    catalog.add_collection(make_collection(name))
    # 1. redirects of a station search, a catalog read and the key check to the other host
    for path, target in (
        ("/adgs/aux/search", "/adgs/aux/search?datetime=2016-01-01T00:00:00Z/2030-01-01T00:00:00Z"),
        ("/catalog/collections/", "/catalog/"),
        ("/apikeymanager", "/health"),
        ("/auth/me", "/health"),
    ):
        sim.add_fault(
            Fault(path=path, kind="redirect", status=307, location=other_host.url + target)
        )
    auxip.search_stations("2016-01-01", "2030-01-01")
    catalog._forget()
    with pytest.raises(RsError):  # the other host's landing page is no collection
        catalog.get_collection(name)
    clear_apikey_cache()
    with pytest.raises(RsError):  # {"healthy": true} has no iam_roles, no user_login
        rs.apikey_info()
    sim.clear_faults()
    # 2. a search page whose `next` link points to the other host
    page = {
        "type": "FeatureCollection",
        "features": [make_item("p1").to_dict() | {"collection": f"{OWNER}_{name}"}],
        "links": [{"rel": "next", "href": f"{other_host.url}/catalog/search?limit=5"}],
    }
    sim.add_fault(Fault(path="/catalog/search", kind="status", status=200, body=page, times=1))
    found = list(catalog.search(collections=[name]).items())
    assert [i.id for i in found][:1] == ["p1"]
    # 3. an asset href on the other host, fetched through the client's own session
    asset = pystac.Asset(f"{other_host.url}/health")
    assert rs.http.get_json(asset.href) == {"healthy": True}
    _no_key_at(other_host, expected_requests=5)
    assert {r.path for r in other_host.requests} >= {"/adgs/aux/search", "/health"}


# -- the command line ----------------------------------------------------------------------


def _rs(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("RSPY_", "RS_"))}
    return subprocess.run(
        [sys.executable, "-m", "rs_core", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean_env, **env},
        check=False,
    )


def test_key_never_in_cli_output(sim: RsServerSimulator, clean: None) -> None:
    env = {"RS_SERVER_HREF": sim.url, "RSPY_APIKEY": API_KEY, "RS_TIMEOUT": "2"}
    search = ("search", "auxip", "--start", "2016-01-01", "--stop", "2030-01-01", "--limit", "2")
    runs = [
        _rs("--debug", *search, "-o", "json", env=env),
        _rs("--debug", "whoami", "-o", "json", env=env),
        _rs("--debug", "sessions", "--station", "cadip:CADIP", "--platform", "S1A", env=env),
        _rs("--debug", "stage", "MTI", "NOT_FROM_A_SEARCH.raw", "--wait", env=env),
        _rs("--debug", "status", "auxip", "NEVER_STAGED.TGZ", env=env),
        _rs("--debug", "catalog", "collections", env=env),
        # the key on the command line (discouraged, but it must not be echoed)
        _rs("--debug", "--api-key", API_KEY, *search, env={"RS_SERVER_HREF": sim.url}),
    ]
    sim.add_fault(Fault(path="/adgs", kind="status", status=500, body={"detail": "boom"}))
    runs.append(_rs("--debug", *search, env=env))  # a typed error, with the traceback
    sim.add_fault(Fault(path="/apikeymanager", kind="hang", delay=5))
    runs.append(_rs("--debug", "whoami", env=env))  # a timeout, with the traceback
    sim.clear_faults()
    assert runs[0].returncode == 0 and json.loads(runs[0].stdout)["features"], runs[0].stderr
    assert "Traceback" in runs[-2].stderr and "ServerError" in runs[-2].stderr
    assert "Traceback" in runs[-1].stderr and "RsTimeoutError" in runs[-1].stderr
    assert any("urllib3" in r.stderr for r in runs), "--debug logs expected"
    for run in runs:
        _scan(f"rs {' '.join(run.args[3:6])}", run.stdout + run.stderr)
    assert not LEAKS, "\n".join(LEAKS)


def test_stored_login_never_in_cli_output(
    sim: RsServerSimulator, clean: None, tmp_path: Any
) -> None:
    env = {"RS_SERVER_HREF": sim.url, "RS_TIMEOUT": "2", "RS_CONFIG_DIR": str(tmp_path)}
    login = subprocess.run(
        [sys.executable, "-m", "rs_core", "--debug", "login", "--cookie", "-"],
        input=COOKIE,
        capture_output=True,
        text=True,
        timeout=120,
        env={**{k: v for k, v in os.environ.items() if not k.startswith(("RSPY_", "RS_"))}, **env},
        check=False,
    )
    assert login.returncode == 0, login.stderr
    stored = tmp_path / "logins.json"
    assert oct(stored.stat().st_mode & 0o777) == "0o600"
    search = ("search", "auxip", "--start", "2016-01-01", "--stop", "2030-01-01", "--limit", "2")
    runs = [
        login,
        _rs("--debug", *search, "-o", "json", env=env),
        _rs("--debug", "whoami", "-o", "json", env=env),
        _rs("--debug", "whoami", env=env),
        _rs("--debug", "catalog", "collections", env=env),
    ]
    sim.add_fault(Fault(path="/adgs", kind="status", status=401, body={"detail": "expired"}))
    runs.append(_rs("--debug", *search, env=env))  # an AuthenticationError, with the traceback
    sim.add_fault(Fault(path="/auth/me", kind="hang", delay=5))
    runs.append(_rs("--debug", "whoami", env=env))  # a timeout, with the traceback
    sim.clear_faults()
    runs.append(_rs("--debug", "logout", env=env))
    assert json.loads(runs[1].stdout)["features"], runs[1].stderr
    assert json.loads(runs[2].stdout)["auth_method"] == "session cookie"
    assert "Traceback" in runs[-3].stderr and "AuthenticationError" in runs[-3].stderr
    assert runs[-1].returncode == 0 and json.loads(stored.read_text()) == {"logins": {}}
    assert any("urllib3" in r.stderr for r in runs), "--debug logs expected"
    for run in runs:
        _scan(f"rs {' '.join(run.args[3:6])}", run.stdout + run.stderr)
    assert not LEAKS, "\n".join(LEAKS)
