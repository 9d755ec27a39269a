"""The `url` of an `http:` action: values put into it are percent-encoded for the part of
the URL they stand in, so a user's answer stays one value ("Paris&appid=x" does not add a
parameter, `#` does not cut the operator's key off, `/` and `../` do not move the call to
another path, a space does not break it). The author's literal parts stay as written.

The part is known when the scenario is compiled: the template's literal text before each
`{{ }}` says whether it stands in the host, the path, the query or the fragment, and the
value is wrapped in a filter that encodes it for that part. A value before any literal
`://` is the start of the URL (an operator's base address from `config`): kept as written,
without spaces or control characters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from jinja2 import Template, nodes
from jinja2.filters import do_urlencode
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.core.model import Text
from engine.core.rendering import RenderError, Scope, render
from engine.core.templating import environment

WHOLE, HOST, PATH, QUERY, FRAGMENT = "start", "host", "path", "query", "fragment"
_STANDS_FOR = {WHOLE: "http://h/", HOST: "h", PATH: "p", QUERY: "q", FRAGMENT: "f"}
_FILTER = "url_part"  # the wrapper's name; never written by authors
_HOST_VALUE = re.compile(r"[\w.:\[\]-]*")
_BREAKS_URL = re.compile(r"[\s\x00-\x1f\x7f]")


def url_part(value: Any, part: str, author_encoded: bool = False) -> str:
    """`value` encoded for `part` of a URL; ValueError when it cannot stand there."""
    if value is None:
        return ""
    if author_encoded and isinstance(value, Mapping) and part in (QUERY, FRAGMENT):
        return str(do_urlencode(value))  # `{{ params|urlencode }}`: pairs the author asked for
    text = str(value)
    if part == WHOLE:
        if _BREAKS_URL.search(text):
            raise ValueError(
                f"the value at the start of the url has a space or a control character: "
                f"{text[:40]!r}"
            )
        return text
    if part == HOST:
        if not _HOST_VALUE.fullmatch(text):
            raise ValueError(
                f"a value in the url's host may contain only letters, digits, '.', '-' and "
                f"':' (a port), not {text[:40]!r}"
            )
        return text
    return quote(text, safe="")


def _position(literal: str) -> str:
    """Which part of a URL comes after `literal` (the URL so far, values as placeholders)."""
    if "#" in literal:
        return FRAGMENT
    if "?" in literal:
        return QUERY
    _, separator, rest = literal.partition("://")
    if not separator:
        return WHOLE
    return PATH if "/" in rest else HOST


def _encode_values(tree: nodes.Template) -> None:
    """Wrap each `{{ }}` of the template in the filter for its part of the URL, in the
    order they are written (for `{% if %}` branches: as if all were taken)."""
    literal: list[str] = []
    for output in tree.find_all(nodes.Output):
        for index, node in enumerate(output.nodes):
            if isinstance(node, nodes.TemplateData):
                literal.append(node.data)
                continue
            part = _position("".join(literal))
            encoded = (
                isinstance(node, nodes.Filter)
                and node.name == "urlencode"
                and node.node is not None
                and not node.args
            )
            inner = node.node if encoded and isinstance(node, nodes.Filter) else node
            assert inner is not None
            arguments: list[nodes.Expr] = [nodes.Const(part), nodes.Const(encoded)]
            wrapped = nodes.Filter(inner, _FILTER, arguments, [], None, None)
            wrapped.set_lineno(node.lineno)
            output.nodes[index] = wrapped
            literal.append(_STANDS_FOR[part])


@cache
def _url_environment() -> ImmutableSandboxedEnvironment:
    """The data environment with the wrapper filter, which scenario texts cannot use."""
    env = environment("data").overlay()
    env.filters = {**env.filters, _FILTER: url_part}
    return env


def url_template(source: str) -> Template:
    """The compiled `url` template, each value wrapped for its part of the URL."""
    env = _url_environment()
    tree = env.parse(source)
    _encode_values(tree)
    code = env.compile(tree)
    template: Template = env.template_class.from_code(env, code, env.make_globals(None), None)
    return template


def render_url(url: Text, scope: Scope) -> str:
    """The URL to call; RenderError when a value cannot stand where it is, or when values
    made a `.` or `..` path segment (the call would climb to another path)."""
    rendered = render(url, scope)
    if url.template is None:
        return rendered
    for segment in urlsplit(rendered).path.split("/"):
        if unquote(segment) in (".", ".."):
            raise RenderError(
                f"the url's path would have a '{unquote(segment)}' segment, which moves the "
                f"call to another path: {rendered[:80]}"
            )
    return rendered
