"""Write RS-Server 1.0's config files for scripts/rs-server-1 (run by the side venv's python).

The wheels install their config templates into a top-level ``config/`` directory of
site-packages. This copies the eodag provider files with every station URL pointed at our
station simulators, writes the station credentials file (``$HOME/.config/rs-server.yaml``, read
in local mode) and the S3 bucket table (``BUCKET_CONFIG_FILE_PATH``).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import rs_server_common
import yaml

LOCAL_URL = re.compile(r"http://127\.0\.0\.1:5\d{3}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--adgs", required=True)
    parser.add_argument("--cadip", required=True)
    parser.add_argument("--prip", required=True)
    parser.add_argument("--bucket", required=True)
    args = parser.parse_args()
    src = Path(rs_server_common.__file__).parent.parent / "config"
    if not src.is_dir():
        raise SystemExit(f"no config/ directory in {src.parent}: is RS-Server 1.0 installed?")
    out = args.state / "config"
    out.mkdir(parents=True, exist_ok=True)
    urls = {"adgs": args.adgs, "cadip": args.cadip, "prip": args.prip}

    # eodag provider files: every provider -> our station of that kind
    for kind, url in urls.items():
        name = f"{kind}_ws_config.yaml"
        text = (src / name).read_text()
        new, count = LOCAL_URL.subn(url, text)
        if count == 0:
            raise SystemExit(f"{name}: no http://127.0.0.1:5xxx URL to rewrite")
        (out / name).write_text(new)
        print(f"{name}: {count} URLs -> {url}")

    # station credentials. Staging finds a station's credentials by the host name of the
    # asset URL ("domain"): all our stations are on 127.0.0.1 and accept each other's tokens.
    config = yaml.safe_load((src / "rs-server.yaml").read_text())
    by_service = {"auxip": args.adgs, "cadip": args.cadip, "prip": args.prip}
    for station, source in config["external_data_sources"].items():
        url = by_service.get(source.get("service", {}).get("name"))
        if url is None:
            continue
        source["domain"] = "127.0.0.1"
        source["service"]["url"] = url
        auth = source["authentication"]
        auth["token_url"] = url + "/oauth2/token"
        auth["username"] = "test"
        auth["password"] = "test"
        print(f"rs-server.yaml: {station} -> {url}")
    target = args.state / "home" / ".config" / "rs-server.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    # The same as RSPY__TOKEN__<service>__<station>__<section>[__<key>] env vars: what cluster
    # mode reads, and local mode too from 1.0a14 on (it no longer reads rs-server.yaml).
    lines = []
    for station, source in config["external_data_sources"].items():
        service = source.get("service", {}).get("name")
        if service not in by_service or station.endswith("_session"):
            continue
        prefix = f"RSPY__TOKEN__{service.upper()}__{station.upper()}"
        lines.append(f"{prefix}__DOMAIN={source['domain']}")
        lines.append(f"{prefix}__SERVICE__URL={source['service']['url']}")
        for key, value in source["authentication"].items():
            if value is not None:
                lines.append(f"{prefix}__AUTHENTICATION__{key.upper()}={value}")
    (args.state / "env").mkdir(parents=True, exist_ok=True)
    (args.state / "env" / "station-tokens").write_text("\n".join(lines) + "\n")

    # owner, collection, eopf:type, expiration days, bucket
    (out / "expiration_bucket.csv").write_text(f"*, *, *, 30, {args.bucket}\n")


if __name__ == "__main__":
    main()
