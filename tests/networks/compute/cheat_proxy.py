"""A cheating front for a real provider (test-only): forwards jobs, returns wrong outputs.

``python cheat_proxy.py --upstream URL --port PORT`` with the provider's own key in
``DEPINKIT_PROVIDER_KEY``: it is the provider, faking its results, signing them as its
own (what a provider pocketing fees without doing the work would do).
"""

from __future__ import annotations

import argparse
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compute_client_kit import corrupt

from depinkit.core.envelope import ReportDomain
from depinkit.core.keys import Account
from depinkit.networks.compute.jobs import SignedResult, sign_result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chain-id", type=int, required=True)
    parser.add_argument("--registry", required=True)
    args = parser.parse_args()
    account = Account.from_key(os.environ["DEPINKIT_PROVIDER_KEY"])
    domain = ReportDomain(chain_id=args.chain_id, registry=args.registry)
    upstream = httpx.Client(base_url=args.upstream, timeout=600)

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            reply = upstream.get(self.path)
            self._reply(reply.status_code, reply.content)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            reply = upstream.post(
                self.path, content=body, headers={"content-type": "application/json"}
            )
            if reply.status_code != 200 or self.path != "/v1/jobs":
                self._reply(reply.status_code, reply.content)
                return
            honest = msgspec.json.decode(reply.content, type=SignedResult)
            fake = sign_result(account, domain, corrupt(honest.result), lease=honest.lease)
            self._reply(200, msgspec.json.encode(fake))

        def log_message(self, *_args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
