"""Render briefings with the Jinja templates shipped in command/templates, one per audience.

StrictUndefined: a template naming a missing fact fails loudly in tests instead of sending a blank.
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined

from daemon.command.cadence import Briefing


class Renderer:
    """Built once by the shell; templates are loaded from the package on first use."""

    def __init__(self) -> None:
        self._env = Environment(
            loader=PackageLoader("daemon.command", "templates"),
            undefined=StrictUndefined,
            autoescape=False,  # noqa: S701 - plain text and Markdown for chat and mail, never served as HTML
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def subject(self, briefing: Briefing) -> str:
        i = briefing.incident
        return f"[P{i.priority}] {i.id} {i.title} - {i.state.value}"

    def render(self, briefing: Briefing) -> str:
        template = self._env.get_template(f"{briefing.audience.value}.md.j2")
        return template.render(b=briefing, i=briefing.incident)
