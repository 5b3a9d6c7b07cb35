"""``rs login``, ``rs logout``, ``rs whoami``: signing in to an RS-Server cluster.

``rs login`` signs in through RS-Server's console login (user name and password, posted only to
the identity provider's login form), or stores a pasted session cookie (``--cookie``), an API
key (``--with-api-key``) or a bearer token (``--bearer``); the secret is read from a prompt that
does not echo, or from stdin (``-``), never from the command line. It is checked against the
server, then saved for that URL in the config directory (mode 0600), where the CLI and the
Python API find it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rs_core.cli.output import emit_records

if TYPE_CHECKING:
    from rs_core.client import RsClient

__all__ = ["COMMANDS", "configure"]

COMMANDS = frozenset({"login", "logout", "whoami"})
Add = Callable[[str, str, Callable[..., int]], argparse.ArgumentParser]
MakeClient = Callable[[], "RsClient"]


def configure(add: Add) -> None:
    """Add ``login``, ``logout`` and ``whoami`` through ``add(name, help, handler)``."""
    p = add(
        "login",
        "sign in to RS-Server and remember it (console login or a pasted secret)",
        cmd_login,
    )
    how = p.add_mutually_exclusive_group()
    how.add_argument(
        "--cookie",
        nargs="?",
        const="",
        metavar="-",
        help="store a session cookie (the value of 'session'), read from a prompt or stdin (-)",
    )
    how.add_argument(
        "--with-api-key",
        dest="api_key_input",
        nargs="?",
        const="",
        metavar="-",
        help="store an API key, read from a prompt or stdin (-)",
    )
    how.add_argument(
        "--bearer",
        nargs="?",
        const="",
        metavar="-",
        help="store an OAuth2 access token, read from a prompt or stdin (-)",
    )
    p.add_argument("--username", help="console login: the user name (default: asked)")
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="console login: read the password from stdin instead of a prompt",
    )
    add("logout", "forget the stored login of the server (and end its session)", cmd_logout)
    add("whoami", "who the server says you are, and what your roles allow", cmd_whoami)


def _read_secret(value: str, prompt: str, option: str) -> str:
    """A secret from stdin (``-`` or piped input) or from a prompt that does not echo."""
    if value not in ("", "-"):
        from rs_core.errors import ConfigurationError

        raise ConfigurationError(
            f"{option} takes no secret on the command line (other users can see it): give "
            f"'{option} -' to read it from stdin, or '{option}' alone to be asked"
        )
    if value == "-" or not sys.stdin.isatty():
        return sys.stdin.readline().strip()
    import getpass

    return getpass.getpass(prompt).strip()


def _server(args: argparse.Namespace) -> tuple[str, float]:
    """The RS-Server URL and the read timeout, resolved like every setting."""
    from rs_core.config import resolve_settings
    from rs_core.errors import ConfigurationError

    resolved = resolve_settings(
        href=args.href, timeout=args.timeout, profile=getattr(args, "profile", None)
    )
    if resolved.href.value is None:
        raise ConfigurationError(
            f"rs {args.command} needs a server: give --href, set RS_SERVER_HREF, or use a "
            "--profile that has an href"
        )
    return str(resolved.href.value), float(resolved.timeout.value)


def cmd_login(args: argparse.Namespace, make_client: MakeClient) -> int:
    """``rs login``: sign in, check the credential against the server, store it (0600)."""
    from rs_core.auth import console_login, sanitize_owner_id
    from rs_core.client import RsClient
    from rs_core.config import LoginStore
    from rs_core.errors import ConfigurationError

    href, timeout = _server(args)
    options: dict[str, Any] = {"timeout": timeout, "profile": getattr(args, "profile", None)}
    if args.cookie is not None:
        method, value = "cookie", _read_secret(args.cookie, "Session cookie: ", "--cookie")
        options["oauth2_cookie"] = value
    elif args.api_key_input is not None:
        method, value = "api-key", _read_secret(args.api_key_input, "API key: ", "--with-api-key")
        options["rs_server_api_key"] = value
    elif args.bearer is not None:
        method, value = "bearer", _read_secret(args.bearer, "Access token: ", "--bearer")
        options["bearer_token"] = value
    else:
        username = args.username or input("User name: ").strip()
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            import getpass

            password = getpass.getpass(f"Password for {username}: ")
        if not username or not password:
            raise ConfigurationError("rs login needs a user name and a password")

        def tell(origin: str) -> None:
            if not args.quiet:
                print(f"rs: signing in at {origin}", file=sys.stderr)

        method = "cookie"
        value = console_login(href, username, password, timeout=timeout, on_login_page=tell)
        options["oauth2_cookie"] = value
    if not value:
        raise ConfigurationError(f"rs login: no {method} was given")
    client = RsClient(href, **options)
    identity = client.whoami()
    if identity.user_login:
        sanitize_owner_id(identity.user_login, source="the login the server returned")
    store = LoginStore.default()
    store.save(href, method, value, user_login=identity.user_login)
    print(
        f"Signed in to {href} as {identity.user_login or '(unknown)'} ({identity.method}); "
        f"saved in {store.path} (readable by you only)",
        file=sys.stderr,
    )
    return 0


def cmd_logout(args: argparse.Namespace, make_client: MakeClient) -> int:
    """``rs logout``: end the server session (cookie) and forget the stored login."""
    from rs_core.config import LoginStore
    from rs_core.errors import RsError

    href, timeout = _server(args)
    store = LoginStore.default()
    stored = store.get(href)
    if stored is None:
        print(f"No stored login for {href}", file=sys.stderr)
        return 0
    if stored.method == "cookie":
        from rs_core.credentials import SessionCookie
        from rs_core.http import HttpClient, HttpSettings

        http = HttpClient(
            HttpSettings(timeout=timeout, retries=0),
            credential=SessionCookie(stored.value),
            trusted=[href],
        )
        try:  # best effort: the stored copy goes in any case
            http.request("GET", f"{href}/auth/logout", ok=(401, 403, 404), what="Logout")
        except RsError as err:
            print(f"rs: warning: the server session may still be open: {err}", file=sys.stderr)
        finally:
            http.close()
    store.remove(href)
    print(f"Signed out of {href}; the stored {stored.method} is removed", file=sys.stderr)
    return 0


def cmd_whoami(args: argparse.Namespace, make_client: MakeClient) -> int:
    """``rs whoami``: login, owner, how you signed in, and your roles explained."""
    client = make_client()
    identity = client.whoami()
    sources = client.settings_sources
    data = {
        "href": client.rs_server_href or "(local mode)",
        "profile": client.profile,
        "user_login": identity.user_login or "(local mode: no credential)",
        "owner_id": client.owner_id,
        "auth_method": identity.method,
        "auth_source": sources.get("auth", ""),
        "identity_from": identity.source or None,
        "iam_roles": list(identity.iam_roles),
        "roles": [grant.to_dict() for grant in identity.grants()],
    }
    if args.output != "table":
        print(json.dumps(data, indent=2 if args.output == "json" else None))
        return 0
    for key in ("href", "profile", "user_login", "owner_id", "auth_method", "identity_from"):
        shown = data[key]
        if key == "auth_method" and data["auth_source"] not in ("", "unset"):
            shown = f"{shown} (from {data['auth_source']})"
        print(f"{key:<14} {shown if shown is not None else '-'}")
    if identity.iam_roles:
        print()
        rows = [{"role": g.role, "area": g.area, "allows": g.allows} for g in identity.grants()]
        emit_records(rows, ["role", "area", "allows"], "table")
    return 0
