"""The jinja2 environment of hwgen's templates (reports, FPGA flows, native test-bench harnesses).

Templates live in ``templates/`` of a source checkout, or in ``hwgen/_data/templates`` of an installed
wheel; undefined variables are errors, HTML is escaped, everything else is rendered as written.
"""

from __future__ import annotations

from pathlib import Path

import jinja2


def template_dirs() -> list[Path]:
    here = Path(__file__).resolve().parent
    return [d for d in (here.parent / "templates", here / "_data" / "templates") if d.is_dir()]


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in template_dirs()]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=jinja2.select_autoescape(["html"]),
    )
    env.filters["thousands"] = lambda n: f"{n:,}" if isinstance(n, int) else f"{n:,.1f}"
    return env
