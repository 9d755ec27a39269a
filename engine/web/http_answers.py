"""Small pieces every page of the web side answers with."""

from __future__ import annotations

from aiohttp import web


def see_other(location: str) -> web.Response:
    """A redirect the browser follows with a GET (after a form, or to the login)."""
    return web.Response(status=303, headers={"Location": location})
