"""Jinja2 rendering shared by every digest format.

Enters: a template name under `digests/templates/` and its context values.
Leaves: the rendered text. One `Environment`: autoescape by file extension (`*.html` escaped,
`*.txt` not) and `StrictUndefined`, so a missing value fails loudly instead of rendering blank.
The `http_url` filter gives a link target only for http(s) URLs (None otherwise: show it as text).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from regwatch.inert import http_url


@cache
def environment() -> jinja2.Environment:
    """The one Jinja environment for digests."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("digests", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["http_url"] = http_url
    return env


def render(template_name: str, **context: Any) -> str:
    """Render one template with `context`."""
    return environment().get_template(template_name).render(**context)
