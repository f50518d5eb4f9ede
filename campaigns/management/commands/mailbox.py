"""`python manage.py mailbox [--port 1025] [--dir var/mailbox]`: a local SMTP server for the demo.

Point the app at it with EMAIL_HOST=127.0.0.1 EMAIL_PORT=<port>; every message is printed (From, To,
Subject and the text part) and stored as an .eml file when --dir is given.
"""
from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand

from campaigns.mailbox import LocalSMTPServer, Mailbox


class PrintingMailbox(Mailbox):
    def __init__(self, stdout, **kwargs) -> None:
        super().__init__(**kwargs)
        self.stdout = stdout

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        import email
        import email.policy

        reply = await super().handle_DATA(server, session, envelope)
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        self.stdout.write(f"--- #{self.count} From: {msg['From']}  To: {msg['To']}\nSubject: {msg['Subject']}\n")
        if body is not None:
            self.stdout.write(body.get_content())
        return reply


class Command(BaseCommand):
    help = "Run a local SMTP server that prints and stores every message it receives."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=1025)
        parser.add_argument("--dir", default="", help="Store each message as an .eml file here.")

    def handle(self, *args, host: str, port: int, dir: str, **options):
        directory = Path(dir) if dir else None
        if directory:
            directory.mkdir(parents=True, exist_ok=True)
        server = LocalSMTPServer(PrintingMailbox(self.stdout, directory=directory, keep=False), host=host,
                                 port=port).start()
        self.stdout.write(f"Listening on smtp://{host}:{port} (Ctrl-C stops)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
