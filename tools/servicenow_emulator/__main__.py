"""`python -m tools.servicenow_emulator --port 8443 --cert-dir var/sn` : a ServiceNow instance for demos.

Prints the instance URL and the CA file; point micd at them with servicenow.instance and servicenow.ca_bundle
(or REQUESTS_CA_BUNDLE, which requests lets override any `verify`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path

from tools.servicenow_emulator.rest import Account
from tools.servicenow_emulator.schema import USERS
from tools.servicenow_emulator.server import Emulator


def _account(text: str) -> Account:
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise argparse.ArgumentTypeError("use user:password")
    return Account(user, password)


async def _serve(args: argparse.Namespace) -> None:
    accounts = args.user or [Account("admin", "admin")]
    emulator = Emulator(cert_dir=args.cert_dir, port=args.port, accounts=accounts)
    await emulator.start()
    print(f"ServiceNow emulator at {emulator.url}", flush=True)
    print(f"CA certificate: {emulator.ca_path.resolve()}", flush=True)
    print(f"API accounts: {', '.join(a.user_name for a in accounts)}", flush=True)
    print(f"sys_user (for commanders): {', '.join(name for name, _, _ in USERS)}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.servicenow_emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8443, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--cert-dir", type=Path, default=Path("var/servicenow-emulator"), help="where the CA goes")
    parser.add_argument("--user", type=_account, action="append", help="user:password (repeatable; admin:admin)")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
