"""A local SMTP server that keeps what it receives (tests, the demo, the benchmark): aiosmtpd in a thread."""
from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller


@dataclass
class Mailbox:
    """Collects messages in memory (and as .eml files in `directory` when given)."""

    directory: Path | None = None
    keep: bool = True
    messages: list[EmailMessage] = field(default_factory=list)
    count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self._lock:
            self.count += 1
            number = self.count
            if self.keep or self.directory:
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                if self.keep:
                    self.messages.append(msg)
                if self.directory:
                    (self.directory / f"{number:07d}.eml").write_bytes(envelope.content)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address.lower() in str(m["To"]).lower()]

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.count = 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalSMTPServer:
    def __init__(self, mailbox: Mailbox | None = None, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.mailbox = mailbox or Mailbox()
        self.host = host
        self.port = port or free_port()
        self.controller = Controller(self.mailbox, hostname=host, port=self.port, data_size_limit=10_000_000)

    def start(self) -> LocalSMTPServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
