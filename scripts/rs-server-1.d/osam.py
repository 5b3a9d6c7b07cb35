"""A stand-in for rs-osam, which RS-Server 1.0a14's catalog and staging ask (``RSPY_HOST_OSAM``)
for the S3 bucket table and the user's S3 credentials. Serves, on 127.0.0.1 only:

* ``GET /internal/configuration``: ``[["*", "*", "*", "<days>", "<bucket>"]]`` (owner,
  collection, eopf:type, expiration days, bucket: the CSV table of 1.0a4 as JSON rows);
* ``GET /storage/account/credentials``: ``{"access_key", "secret_key", "endpoint", "region"}``
  of the test S3 endpoint (every user gets the same test credentials);
* ``GET /health``.

Usage: ``python osam.py --port P --bucket B --s3-endpoint URL`` (keys from env
``OSAM_S3_ACCESS_KEY`` / ``OSAM_S3_SECRET_KEY``).
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args()
    answers: dict[str, Any] = {
        "/internal/configuration": [["*", "*", "*", "30", args.bucket]],
        "/storage/account/credentials": {
            "access_key": os.environ["OSAM_S3_ACCESS_KEY"],
            "secret_key": os.environ["OSAM_S3_SECRET_KEY"],
            "endpoint": args.s3_endpoint,
            "region": args.region,
        },
        "/health": {"healthy": True},
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/") or "/"
            status, body = (200, answers[path]) if path in answers else (404, {"detail": path})
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            print(f"{self.command} {self.path} -> {args[1] if len(args) > 1 else ''}", flush=True)

    http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
