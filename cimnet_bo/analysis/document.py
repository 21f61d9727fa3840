"""Documents written once and rendered twice: :class:`Document` (blocks of headings,
paragraphs, tables, images and code) to Markdown and to a standalone HTML page, and
:func:`markdown_table`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class Document:
    """A report as a list of blocks, rendered to Markdown and to HTML from the same content.

    Blocks: ``("h", level, text)``, ``("p", text)``, ``("table", DataFrame of strings,
    caption)``, ``("img", file name, alt text)``, ``("code", text)``.
    """

    title: str
    blocks: list[tuple] = field(default_factory=list)

    def h(self, level: int, text: str) -> None:
        self.blocks.append(("h", level, text))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, frame: pd.DataFrame, caption: str = "") -> None:
        self.blocks.append(("table", frame, caption))

    def img(self, name: str, alt: str) -> None:
        self.blocks.append(("img", name, alt))

    def code(self, text: str) -> None:
        self.blocks.append(("code", text))

    def markdown(self, heading: bool = True) -> str:
        lines = [f"# {self.title}", ""] if heading else []
        for b in self.blocks:
            if b[0] == "h":
                lines += ["#" * b[1] + " " + b[2], ""]
            elif b[0] == "p":
                lines += [b[1], ""]
            elif b[0] == "table":
                if b[2]:
                    lines += [f"*{b[2]}*", ""]
                lines += [markdown_table(b[1]), ""]
            elif b[0] == "img":
                lines += [f"![{b[2]}]({b[1]})", ""]
            elif b[0] == "code":
                lines += ["```", b[1], "```", ""]
        return "\n".join(lines).rstrip() + "\n"

    def html(self) -> str:
        e = html.escape
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f"<title>{e(self.title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            f"<h1>{e(self.title)}</h1>",
        ]
        for b in self.blocks:
            if b[0] == "h":
                parts.append(f"<h{b[1]}>{e(b[2])}</h{b[1]}>")
            elif b[0] == "p":
                parts.append(f"<p>{_inline_html(b[1])}</p>")
            elif b[0] == "table":
                cap = f"<caption>{e(b[2])}</caption>" if b[2] else ""
                parts.append(f'<div class="scroll"><table>{cap}{_html_rows(b[1])}</table></div>')
            elif b[0] == "img":
                parts.append(
                    f'<figure><img src="{e(b[1])}" alt="{e(b[2])}"><figcaption>{e(b[2])}</figcaption></figure>'
                )
            elif b[0] == "code":
                parts.append(f"<pre>{e(b[1])}</pre>")
        parts += ["</body>", "</html>", ""]
        return "\n".join(parts)


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;font-size:13px;margin:.5em 0}"
    "th,td{border:1px solid #ccc;padding:3px 7px;text-align:right;white-space:nowrap}"
    "th{background:#f0f0f0}caption{text-align:left;font-style:italic;padding:3px 0}"
    ".scroll{overflow-x:auto}img{max-width:100%}figure{margin:1em 0}"
    "figcaption{font-size:12px;color:#555}code,pre{background:#f6f6f6;padding:1px 4px}"
)


def _inline_html(text: str) -> str:
    """Escape, then render Markdown's inline ``code`` and **bold**."""
    t = html.escape(text)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", t)


def _html_rows(frame: pd.DataFrame) -> str:
    """The ``<thead>`` and ``<tbody>`` of an HTML table of ``frame`` (values as given, escaped)."""
    e = html.escape
    head = "<tr>" + "".join(f"<th>{e(str(c))}</th>" for c in frame.columns) + "</tr>"
    body = "".join(
        "<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>" for row in frame.itertuples(index=False)
    )
    return f"<thead>{head}</thead><tbody>{body}</tbody>"


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``frame`` (values as given, ``|`` escaped)."""

    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    cols = [cell(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)
