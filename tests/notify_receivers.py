"""Tiny real receivers on loopback for the notification adapters: an SMTP server (the stdlib's
``socketserver``, the commands smtplib uses) and an HTTP endpoint that answers a scripted list
of status codes and keeps every request."""

from __future__ import annotations

import base64
import email
import email.policy
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Mailbox:
    mails: list[EmailMessage] = field(default_factory=list)
    envelopes: list[dict[str, Any]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)


class _SmtpHandler(socketserver.StreamRequestHandler):
    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self) -> None:
        box: Mailbox = self.server.box  # type: ignore[attr-defined]
        envelope: dict[str, Any] = {"rcpt": []}
        self.reply("220 test.local ESMTP")
        while line := self.rfile.readline():
            command = line.decode("utf-8", "replace").strip()
            verb = command.upper()
            if verb.startswith("EHLO"):
                self.wfile.write(b"250-test.local\r\n250-8BITMIME\r\n250 AUTH PLAIN\r\n")
            elif verb.startswith("HELO") or verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            elif verb.startswith("AUTH PLAIN"):
                _, user, password = base64.b64decode(command.split()[2]).decode().split("\0")
                box.logins.append((user, password))
                self.reply("235 2.7.0 Authentication successful")
            elif verb.startswith("MAIL FROM:"):
                envelope = {"from": command[10:].split()[0].strip("<>"), "rcpt": []}
                self.reply("250 OK")
            elif verb.startswith("RCPT TO:"):
                envelope["rcpt"].append(command[8:].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                box.envelopes.append(envelope)
                box.mails.append(email.message_from_bytes(data, policy=email.policy.default))  # type: ignore[arg-type]
                self.reply("250 OK queued")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


@contextmanager
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    """An SMTP server on a free loopback port; yields the port and what it received."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpHandler)
    server.daemon_threads = True
    server.box = Mailbox()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.box  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Endpoint:
    url: str
    statuses: list[int]
    requests: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def http_endpoint(statuses: list[int]) -> Iterator[Endpoint]:
    """An HTTP endpoint answering each POST with the next of ``statuses`` (the last repeats)."""
    endpoint = Endpoint(url="", statuses=list(statuses))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            endpoint.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
            n = len(endpoint.requests)
            code = endpoint.statuses[min(n, len(endpoint.statuses)) - 1]
            self.send_response(code)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"no" if code >= 300 else b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/orderhub"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
