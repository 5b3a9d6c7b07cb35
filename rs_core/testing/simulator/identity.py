"""``python -m rs_core.testing.simulator.identity --port P``: the identity service a real
RS-Server in cluster mode talks to (API-key manager and Keycloak stand-in), until stopped.

It prints ``RSPY_UAC_CHECK_URL=...`` and ``OIDC_ENDPOINT=...`` for the server's environment;
its users, keys and cookie secret are :func:`~.auth.test_users` and
:data:`~.auth.TEST_COOKIE_SECRET` (see docs/dev/cluster-auth.md).
"""

from __future__ import annotations

import threading

from .auth import TEST_COOKIE_SECRET, identity_service

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Run :func:`~.auth.identity_service` until interrupted or terminated."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secret", default=TEST_COOKIE_SECRET, help="RSPY_COOKIE_SECRET")
    args = parser.parse_args(argv)
    service = identity_service(args.host, args.port, secret=args.secret).start()
    print(f"RSPY_UAC_CHECK_URL={service.url}/apikeymanager/check/api_key", flush=True)
    print(f"OIDC_ENDPOINT={service.url}", flush=True)
    stop = threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
