"""Slack-compatible incoming webhooks (also Mattermost and Rocket.Chat): mrkdwn text plus a header block."""

from __future__ import annotations

from typing import Any

from daemon.notify.models import Message


def slack_payload(message: Message) -> dict[str, Any]:
    # Slack's mrkdwn bolds with single asterisks; the templates write Markdown's double ones.
    text = message.text.replace("**", "*")
    return {
        "text": f"{message.subject}\n{text}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": message.subject[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}},
        ],
    }
