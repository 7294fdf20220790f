"""Jinja2 rendering shared by every digest format.

Enters: a template name under `digests/templates/` and its context values.
Leaves: the rendered text. One `Environment`: autoescape by file extension (`*.html` escaped,
`*.txt` not) and `StrictUndefined`, so a missing value fails loudly instead of rendering blank.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2


@cache
def environment() -> jinja2.Environment:
    """The one Jinja environment for digests."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("digests", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template_name: str, **context: Any) -> str:
    """Render one template with `context`."""
    return environment().get_template(template_name).render(**context)
