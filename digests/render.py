"""Jinja2 rendering of a digest into its three formats, and writing them to files.

Enters: a `Digest` and, optionally, a folder whose templates replace the bundled ones
(`digest.html`, `digest.txt`, `digest.md`, `digest.css`, file by file).
Leaves: `Rendered(html, text, markdown)` — the HTML with its CSS inlined by css-inline (only the
dark-mode `@media` rule stays in `<style>`; remote stylesheets are never fetched) — and, from
`write`, the three files, each replaced whole (`outfiles.replace_file`). One `Environment` per
template folder: autoescape by file extension (`*.html` escaped; `*.txt` and `*.md` not, the
Markdown template escapes with the `md` filter), every printed value plain text (`template_value`:
no control characters or bidi controls, whatever a template is given) and `StrictUndefined`, so a
missing value fails loudly instead of rendering blank. Whatever a template raises (Jinja's errors
or Python's: `{{ 1/0 }}`, a macro calling itself) is a `ValueError`, one line naming the template
file and line.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import css_inline
import jinja2

from digests.items import tag_label
from regwatch.inert import markdown_url, template_value
from regwatch.outfiles import replace_file

MD_SPECIAL = re.compile(r"([\\`*_\[\]<>~&|])")
FORMATS = {"html": "digest.html", "txt": "digest.txt", "md": "digest.md"}


@dataclass(frozen=True)
class Rendered:
    """A digest in every format."""

    html: str
    text: str
    markdown: str


@cache
def environment(templates_dir: Path | None = None) -> jinja2.Environment:
    """The digest environment: `templates_dir` (if any) first, then the bundled templates."""
    loaders: list[jinja2.BaseLoader] = [jinja2.PackageLoader("digests", "templates")]
    if templates_dir is not None:
        loaders.insert(0, jinja2.FileSystemLoader(templates_dir))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(["html"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        finalize=template_value,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md=md, md_url=markdown_url, tag_label=tag_label)
    return env


@cache
def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def render_template(name: str, **context: Any) -> str:
    """One bundled template rendered with `context` (alert messages in feeds)."""
    return environment().get_template(name).render(**context)


def render(digest: Any, templates_dir: Path | None = None) -> Rendered:
    """Render `digest` as HTML (CSS inlined), plain text and Markdown."""
    env = environment(templates_dir)
    try:
        html, text, markdown = (
            env.get_template(name).render(digest=digest) for name in FORMATS.values()
        )
    except jinja2.TemplateError as exc:
        where = f" ({exc.filename}:{exc.lineno})" if getattr(exc, "lineno", None) else ""
        raise ValueError(f"digest template error{where}: {exc.message}") from None
    except Exception as exc:  # a template is code: `{{ 1/0 }}`, `{{ "a" + 1 }}`, a recursion
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise ValueError(f"digest template error{_template_line(exc)}: {what}") from None
    return Rendered(_inliner().inline(html), text, markdown)


def _template_line(exc: Exception) -> str:
    """` (file:line)` of the innermost template line in `exc`'s traceback (Jinja rewrites its
    frames to point at the template source), or "" when none is there."""
    where = [
        f" ({frame.f_code.co_filename}:{line})"
        for frame, line in traceback.walk_tb(exc.__traceback__)
        if "__jinja_exception__" in frame.f_globals
    ]
    return where[-1] if where else ""


def write(rendered: Rendered, output_dir: Path, stem: str) -> dict[str, Path]:
    """Write `<stem>.html`, `<stem>.txt` and `<stem>.md` under `output_dir`; return the paths."""
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for suffix, content in (
        ("html", rendered.html),
        ("txt", rendered.text),
        ("md", rendered.markdown),
    ):
        paths[suffix] = output_dir / f"{stem}.{suffix}"
        replace_file(paths[suffix], content.encode("utf-8"))
    return paths


def md(value: Any) -> str:
    """Text made inert in Markdown: emphasis, links, code, HTML and table pipes escaped."""
    return MD_SPECIAL.sub(r"\\\1", str(value))
