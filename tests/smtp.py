"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, on a port the system picks.

Enters: what the server should answer (refusals, a delay, QUIT's reply) set on a `Receiver`.
Leaves: `Receiver.messages` (every accepted message, parsed), `Receiver.raw` (the same as sent,
bytes) and `Receiver.envelopes` (their recipients); `EphemeralController` serves a handler on
port 0.
"""

import asyncio
import email
import email.policy

from aiosmtpd.controller import Controller


class EphemeralController(Controller):
    """aiosmtpd's Controller on port 0: its self-test must use the port actually bound."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class Receiver:
    """Keeps every accepted message; refuses DATA with `data_replies` and RCPT for `refuse` and
    for a blank address (`<>`); answers DATA `data_delay` seconds after keeping the message (a
    slow server) and QUIT with `quit_reply`."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.raw: list[bytes] = []
        self.envelopes: list[list[str]] = []
        self.data_replies: list[str] = []
        self.refuse: set[str] = set()
        self.data_delay = 0.0
        self.quit_reply = "221 Bye"

    async def handle_QUIT(self, server, session, envelope):
        return self.quit_reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == "<>":  # a blank recipient, refused as real servers do (aiosmtpd takes it)
            return "501 5.1.3 Bad recipient address syntax"
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_replies:
            return self.data_replies.pop(0)
        self.envelopes.append(list(envelope.rcpt_tos))
        self.raw.append(envelope.content)
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        await asyncio.sleep(self.data_delay)
        return "250 Message accepted"
