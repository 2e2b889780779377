"""E-mail through an SMTP relay with the standard library, in a worker thread so the loop never blocks."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

from daemon.config.tenants import Channel
from daemon.notify.models import Message, NotifyError


class EmailNotifier:
    def __init__(self, *, timeout: float = 10.0) -> None:
        self._timeout = timeout

    async def send(self, channel: Channel, message: Message) -> None:
        if not channel.to:
            raise NotifyError(f"channel {channel.name!r} has no recipients", retryable=False)
        mail = EmailMessage()
        mail["From"] = channel.sender
        mail["To"] = ", ".join(channel.to)
        mail["Subject"] = message.subject
        mail["X-Micd-Incident"] = message.incident_id
        mail.set_content(message.text)
        try:
            await asyncio.to_thread(self._deliver, channel, mail)
        except smtplib.SMTPResponseException as exc:
            raise NotifyError(
                f"channel {channel.name!r}: SMTP {exc.smtp_code}", retryable=400 <= exc.smtp_code < 500
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifyError(f"channel {channel.name!r}: {type(exc).__name__}", retryable=True) from exc

    def _deliver(self, channel: Channel, mail: EmailMessage) -> None:
        with smtplib.SMTP(channel.smtp_host, channel.smtp_port, timeout=self._timeout) as smtp:
            if channel.smtp_starttls:
                smtp.starttls()
            if channel.smtp_username and channel.smtp_password is not None:
                smtp.login(channel.smtp_username, channel.smtp_password.get_secret_value())
            smtp.send_message(mail)
