"""How a request proves who sent it: API key, OAuth2 session cookie or bearer token.

A :class:`Credential` is one small object the HTTP layer applies to each request whose origin is
trusted (the configured RS-Server URLs), and to no other: a redirect or a ``next`` link to
another host never carries it. Its value lives in a :class:`~rs_core.http.Secret`, so it is
never in a ``repr``, a log line or an error message.

>>> cred = SessionCookie("abc.def")
>>> cred, cred.method
(SessionCookie(***), 'session cookie')
>>> headers = {}
>>> cred.apply(headers)
>>> headers
{'Cookie': 'session=abc.def'}
"""

from __future__ import annotations

from collections.abc import MutableMapping

__all__ = [
    "APIKEY_HEADER",
    "AUTH_HEADERS",
    "SESSION_COOKIE_NAME",
    "ApiKeyCredential",
    "BearerToken",
    "Credential",
    "SessionCookie",
]

APIKEY_HEADER = "x-api-key"
SESSION_COOKIE_NAME = "session"
"""The cookie RS-Server's session middleware (Starlette) sets after an OAuth2 login."""
AUTH_HEADERS = (APIKEY_HEADER, "Authorization", "Cookie")
"""Headers that carry credentials: stripped from every request to an untrusted origin."""


class Credential:
    """One way of authenticating; subclasses set :attr:`method` and :attr:`header`.

    ``value`` is the secret itself (a ``str``); it is kept in a
    :class:`~rs_core.http.Secret` at once.
    """

    method = "credential"
    """How the user signed in, as error messages say it ("API key", "session cookie"...)."""
    header = ""
    """The HTTP header the credential travels in."""

    def __init__(self, value: str) -> None:
        from rs_core.http import Secret

        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"a {self.method} must be a non-empty string")
        self.secret = Secret(value.strip())

    def header_value(self) -> str:
        """What goes into :attr:`header` (the secret, revealed: call it only to send)."""
        return self.secret.reveal()

    def apply(self, headers: MutableMapping[str, str]) -> None:
        """Put the credential into ``headers`` (a request to a trusted origin)."""
        headers[self.header] = self.header_value()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(***)"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.secret == self.secret

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.secret))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("credentials are not picklable")


class ApiKeyCredential(Credential):
    """An RS-Server API key, sent as ``x-api-key``."""

    method = "API key"
    header = APIKEY_HEADER


class SessionCookie(Credential):
    """An RS-Server OAuth2 session cookie (the value of the ``session`` cookie).

    Sent as a ``Cookie`` header by the HTTP layer itself, never through requests' cookie jar
    (whose cookies set without a domain go to every host).
    """

    method = "session cookie"
    header = "Cookie"

    def __init__(self, value: str, name: str = SESSION_COOKIE_NAME) -> None:
        value = value.strip() if isinstance(value, str) else value
        prefix = f"{name}="
        if isinstance(value, str) and value.startswith(prefix):
            value = value[len(prefix) :]  # a pasted "session=..." works too
        if isinstance(value, str) and any(c in value for c in ";\r\n "):
            raise ValueError("a session cookie value has no spaces, ';' or line breaks")
        super().__init__(value)
        self.name = name

    def header_value(self) -> str:
        """``session=<value>``."""
        return f"{self.name}={self.secret.reveal()}"


class BearerToken(Credential):
    """An OAuth2 access token (JWT), sent as ``Authorization: Bearer <token>``."""

    method = "bearer token"
    header = "Authorization"

    def __init__(self, value: str) -> None:
        value = value.strip() if isinstance(value, str) else value
        if isinstance(value, str) and value[:7].lower() == "bearer ":
            value = value[7:]
        super().__init__(value)

    def header_value(self) -> str:
        """``Bearer <token>``."""
        return f"Bearer {self.secret.reveal()}"
