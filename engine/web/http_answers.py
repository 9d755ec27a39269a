"""Small pieces every page of the web side answers with."""

from __future__ import annotations

import datetime as dt

from aiohttp import web


def see_other(location: str) -> web.Response:
    """A redirect the browser follows with a GET (after a form, or to the login)."""
    return web.Response(status=303, headers={"Location": location})


def utc_now() -> dt.datetime:
    """Now, as the tables keep moments: naive UTC."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
