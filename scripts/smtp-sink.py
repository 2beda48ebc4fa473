#!/usr/bin/python3
"""A loopback SMTP server for the notifier tests: stores every message it receives.

Usage: smtp-sink.py OUTPUT_DIR [--auth USER:PASSWORD] [--starttls CERT KEY] [--smtps CERT KEY]

It listens on 127.0.0.1 on a port the system chooses, prints "port N" once it listens, and writes
each received message to OUTPUT_DIR/message-N.eml. It stops when its standard input closes, so
a test that dies cannot leave it running. Needs Debian's python3-aiosmtpd.
"""

import argparse
import asyncio
import os
import pathlib
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Store:
    def __init__(self, directory):
        self.directory = pathlib.Path(directory)
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = self.directory / f"message-{self.count}.eml"
        path.write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def main():
    # aiosmtpd warns when AUTH is allowed without TLS, which the plain-text test needs.
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser()
    parser.add_argument("output")
    parser.add_argument("--auth")
    parser.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--smtps", nargs=2, metavar=("CERT", "KEY"))
    args = parser.parse_args()

    store = Store(args.output)
    options = {"hostname": "sink.localhost", "auth_require_tls": False}
    if args.auth:
        user, password = args.auth.split(":", 1)

        def check(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and (
                auth_data.login.decode() == user and auth_data.password.decode() == password
            )
            return AuthResult(success=ok, handled=False)

        options.update(authenticator=check, auth_required=True)
    if args.starttls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*args.starttls)
        options.update(tls_context=context, require_starttls=True)
    server_ssl = None
    if args.smtps:
        server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ssl.load_cert_chain(*args.smtps)

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(store, **options), "127.0.0.1", 0, ssl=server_ssl
        )
        port = server.sockets[0].getsockname()[1]
        print(f"port {port}", flush=True)
        # Stop when the test closes standard input (or exits). Exiting at once drops any open
        # connection, which would otherwise keep the server alive until its 300 s timeout.
        await loop.run_in_executor(None, sys.stdin.read)
        server.close()
        os._exit(0)

    asyncio.run(serve())


if __name__ == "__main__":
    main()
