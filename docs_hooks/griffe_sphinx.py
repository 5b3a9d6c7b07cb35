"""A griffe extension: Sphinx markup in docstrings, rendered by mkdocstrings as it should be.

The docstrings of rs-client are written in one style, Sphinx's (``:param x:``, ``:class:`X```,
``>>>`` examples). mkdocstrings parses the fields (``docstring_style: auto`` in mkdocs.yml);
this extension does the rest before parsing, without touching the source files:

- roles (``:class:``, ``:meth:``, ``:func:``, ``:mod:``, ``:attr:``, ``:data:``, ``:exc:``,
  ``:obj:``) become autorefs cross-references: a link when the target is documented on the
  site, plain code otherwise (never a build warning for a target outside the site);
- ``>>>`` examples become ``pycon`` code blocks, without their ``# doctest:`` directives;
- a paragraph ending in reST's ``::`` ends in ``:`` (the indented block after it is code).

mkdocs.yml: ``extensions: [docs_hooks/griffe_sphinx.py:SphinxMarkup]``.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

import griffe

ROLE = re.compile(
    r":(?:py:)?(?P<role>class|meth|func|mod|attr|data|exc|obj|const):`(?P<target>[^`]+)`"
)
DOCTEST_DIRECTIVE = re.compile(r"\s*#\s*doctest:.*$")
GOOGLE_EXAMPLES = re.compile(r"^\s*Examples?:\s*$", re.MULTILINE)


def _resolve(target: str, obj: Any) -> str:
    """The full path of ``target`` as written in ``obj``'s docstring (best effort)."""
    collection = getattr(obj, "modules_collection", None)
    if "." in target and collection is not None:
        try:  # a re-exported path (rs_core.StationClient) -> where it is documented
            member = collection.get_member(target)
            return str(member.target_path if member.is_alias else member.path)
        except Exception:  # not loaded, or not a Python path
            pass
    head, _, rest = target.lstrip(".").partition(".")
    scopes = [obj, getattr(obj, "parent", None), getattr(obj, "module", None)]
    for scope in scopes:
        if scope is None:
            continue
        try:
            member = scope.members.get(head) if hasattr(scope, "members") else None
        except Exception:  # an alias that cannot be resolved
            member = None
        if member is not None:
            try:
                path = member.target_path if member.is_alias else member.path
            except Exception:
                path = member.path
            return f"{path}.{rest}" if rest else str(path)
    return target


def convert_roles(text: str, obj: Any = None) -> str:
    """Sphinx roles -> optional autorefs (a link when documented, else code).

    >>> convert_roles("see :class:`~rs_core.errors.RsError`")
    'see <autoref identifier="rs_core.errors.RsError" optional><code>RsError</code></autoref>'
    """

    def replace(match: re.Match[str]) -> str:
        target = match["target"].strip()
        title_text = target
        if target.startswith("~"):
            target = target[1:]
            title_text = target.rsplit(".", 1)[-1]
        explicit = re.fullmatch(r"(?P<title>.+?)\s*<(?P<target>[^>]+)>", target)
        if explicit:
            title_text, target = explicit["title"], explicit["target"]
        if match["role"] in ("meth", "func") and not title_text.endswith(")"):
            title_text += "()"
        identifier = _resolve(target.rstrip("()"), obj) if obj is not None else target
        return (
            f'<autoref identifier="{escape(identifier)}" optional>'
            f"<code>{escape(title_text)}</code></autoref>"
        )

    return ROLE.sub(replace, text)


def convert_doctests(text: str) -> str:
    """``>>>`` blocks -> fenced ``pycon`` blocks, without ``# doctest:`` directives.

    A block runs from its first ``>>>`` line to the next blank line; after a reST ``::``
    paragraph the fence stands at the paragraph's indentation (tested in tests/docs).
    """
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith(">>>"):
            indent = len(line) - len(stripped)
            block: list[str] = []
            while i < len(lines) and lines[i].strip():
                block.append(DOCTEST_DIRECTIVE.sub("", lines[i][indent:]).rstrip())
                i += 1
            # a reST literal block (after "::") is indented: the fence stands at the text's level
            level = indent
            prev = next((x for x in reversed(out) if x.strip()), "")
            if prev.rstrip().endswith(":"):
                level = min(indent, len(prev) - len(prev.lstrip()))
            pad = " " * level
            out += [pad + "```pycon", *(pad + b if b else b for b in block), pad + "```"]
            continue
        if stripped.endswith("::") and not stripped.startswith((">>>", "...")):
            line = line.rstrip()[:-1]
        out.append(DOCTEST_DIRECTIVE.sub("", line) if "# doctest:" in line else line)
        i += 1
    return "\n".join(out)


def convert(text: str, obj: Any = None) -> str:
    """Both conversions; docstrings with a Google ``Examples:`` section keep their examples
    (mkdocstrings renders those itself) and lose only the doctest directives."""
    text = convert_roles(text, obj)
    if GOOGLE_EXAMPLES.search(text):
        return "\n".join(DOCTEST_DIRECTIVE.sub("", x) for x in text.split("\n"))
    return convert_doctests(text)


class SphinxMarkup(griffe.Extension):
    """Rewrite every docstring once its package is loaded (so that names imported at the end
    of a module, e.g. under ``TYPE_CHECKING``, resolve to their documented paths)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        seen: set[int] = set()

        def walk(obj: Any) -> None:
            if obj.is_alias or id(obj) in seen:
                return
            seen.add(id(obj))
            if obj.docstring is not None:
                obj.docstring.value = convert(obj.docstring.value, obj)
            for member in list(obj.members.values()):
                walk(member)

        walk(pkg)
