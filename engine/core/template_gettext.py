"""`_()`, `gettext`, `ngettext` and `{% trans %}` for templates, without Jinja's habit of
%-formatting every translated text.

Jinja's newstyle gettext applies `text % variables` even when there are no variables, so
`{{ _(answer) }}` on a user's "50% off" failed and on "%999999999s" built a 1 GB string.
Here a text is formatted only when variables are given, and then within the limits of
engine.core.template_limits. A `{% trans %}` block without variables writes its `%` as
they are (Jinja would write `%%` and rely on the formatting to undo it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import Environment, nodes, pass_context
from jinja2.ext import InternationalizationExtension
from jinja2.runtime import Context
from markupsafe import Markup

from engine.core.template_limits import check_percent


def _finish(context: Context, text: Any, variables: dict[str, Any]) -> str:
    if context.eval_ctx.autoescape:
        text = Markup(text)
    if not variables:
        return str(text)
    check_percent(text, variables)
    return str(text % variables)


def make_gettext(translate: Callable[[str], str]) -> Callable[..., str]:
    @pass_context
    def gettext(__context: Context, __string: str, **variables: Any) -> str:
        return _finish(__context, __context.call(translate, __string), variables)

    return gettext


def make_ngettext(translate: Callable[[str, str, int], str]) -> Callable[..., str]:
    @pass_context
    def ngettext(
        __context: Context, __singular: str, __plural: str, __num: int, **variables: Any
    ) -> str:
        variables.setdefault("num", __num)
        text = __context.call(translate, __singular, __plural, __num)
        return _finish(__context, text, variables)

    return ngettext


def make_pgettext(translate: Callable[[str, str], str]) -> Callable[..., str]:
    @pass_context
    def pgettext(__context: Context, __string_ctx: str, __string: str, **variables: Any) -> str:
        variables.setdefault("context", __string_ctx)
        return _finish(__context, __context.call(translate, __string_ctx, __string), variables)

    return pgettext


def make_npgettext(translate: Callable[[str, str, str, int], str]) -> Callable[..., str]:
    @pass_context
    def npgettext(
        __context: Context,
        __string_ctx: str,
        __singular: str,
        __plural: str,
        __num: int,
        **variables: Any,
    ) -> str:
        variables.setdefault("context", __string_ctx)
        variables.setdefault("num", __num)
        text = __context.call(translate, __string_ctx, __singular, __plural, __num)
        return _finish(__context, text, variables)

    return npgettext


class Translations(InternationalizationExtension):
    """Jinja's i18n extension; a `{% trans %}` without variables keeps its text's `%`."""

    def _make_node(
        self,
        singular: str,
        plural: str | None,
        context: str | None,
        variables: dict[str, nodes.Expr],
        plural_expr: nodes.Expr | None,
        vars_referenced: bool,
        num_called_num: bool,
    ) -> nodes.Output:
        if not variables and plural_expr is None:  # called without variables: not formatted
            singular = singular.replace("%%", "%")
        return super()._make_node(
            singular, plural, context, variables, plural_expr, vars_referenced, num_called_num
        )


def install_null_translations(environment: Environment) -> None:
    """The source language's texts, through the functions above (newstyle: `_()` takes
    variables as keywords)."""
    environment.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    environment.globals.update(
        gettext=make_gettext(lambda s: s),
        ngettext=make_ngettext(lambda s, p, n: s if n == 1 else p),
        pgettext=make_pgettext(lambda c, s: s),
        npgettext=make_npgettext(lambda c, s, p, n: s if n == 1 else p),
    )
