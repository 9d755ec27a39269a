"""Writing many rows with one prepared statement. Peewee builds SQL row by row, which took
most of a batch's time; the statements here are built once per table and shape."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import chain, repeat
from operator import is_, itemgetter
from typing import Any

import peewee

from engine.store.database import is_postgres


@lru_cache(maxsize=256)
def _statement(
    table: str,
    columns: tuple[str, ...],
    conflict: tuple[str, ...],
    update: tuple[str, ...],
    postgres: bool,
    rows: int = 1,
) -> str:
    """The INSERT for `rows` rows (SQLite; PostgreSQL's execute_values fills in its own)."""
    names = ", ".join(f'"{c}"' for c in columns)
    row = "(" + ", ".join("?" for _ in columns) + ")"
    values = "%s" if postgres else ", ".join(row for _ in range(rows))
    sql = f'INSERT INTO "{table}" ({names}) VALUES {values}'
    if conflict:
        target = ", ".join(f'"{c}"' for c in conflict)
        if update:
            changes = ", ".join(f'"{c}" = excluded."{c}"' for c in update)
            sql += f" ON CONFLICT ({target}) DO UPDATE SET {changes}"
        else:
            sql += f" ON CONFLICT ({target}) DO NOTHING"
    return sql


def _sqlite_value(value: Any) -> Any:
    # the format peewee's DateTimeField writes and reads on SQLite
    return value.isoformat(" ") if isinstance(value, dt.datetime) else value


@lru_cache(maxsize=64)
def _shape(
    model: type[peewee.Model], given: tuple[str, ...]
) -> tuple[dict[str, Any], tuple[str, ...], frozenset[str]]:
    """For rows with the keys `given`: the defaults peewee would fill in, all the columns
    written, and which of them are timestamps (worked out once per table and shape)."""
    defaults = {
        f.column_name: f.default
        for f in model._meta.sorted_fields
        if f.name not in given and f.default is not None and not isinstance(f, peewee.AutoField)
    }
    columns = given + tuple(defaults)
    dates = frozenset(
        f.column_name for f in model._meta.sorted_fields if isinstance(f, peewee.DateTimeField)
    ) & frozenset(columns)
    return defaults, columns, dates


def _one_value(rows: Sequence[dict[str, Any]], column: str) -> bool:
    """Whether every row holds the very same object in `column` (tested in C, not in a
    Python loop over the rows)."""
    first = rows[0][column]
    return all(map(is_, map(itemgetter(column), rows), repeat(first)))


@lru_cache(maxsize=64)
def _getter(columns: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A row's values for `columns`, as a tuple (itemgetter of one key gives no tuple)."""
    if not columns:
        return lambda row: ()
    if len(columns) == 1:
        name = columns[0]
        return lambda row: (row[name],)
    return itemgetter(*columns)


def insert_rows(
    db: peewee.Database,
    model: type[peewee.Model],
    rows: Sequence[dict[str, Any]],
    conflict: tuple[str, ...] = (),
    update: tuple[str, ...] = (),
) -> None:
    """Insert rows (all with the same keys); on a conflict, update the `update` columns."""
    if not rows:
        return
    defaults, columns, dates = _shape(model, tuple(rows[0]))
    # peewee fills defaults in Python, not as SQL defaults: once per batch here
    filled = tuple(v() if callable(v) else v for v in defaults.values())
    postgres = is_postgres(db)
    given = columns[: len(columns) - len(filled)]
    if dates and not postgres:
        # a batch's rows share their timestamps (the batch's moment): such a column is
        # written like a default, formatted once, and the rows are not walked in Python
        shared = tuple(c for c in given if c in dates and _one_value(rows, c))
        if shared:
            given = tuple(c for c in given if c not in shared)
            filled = tuple(rows[0][c] for c in shared) + filled
            columns = given + shared + tuple(defaults)
            dates = dates - frozenset(shared)
        filled = tuple(_sqlite_value(v) for v in filled)
    shape = (model._meta.table_name, columns, conflict, update)
    row_values = _getter(given)
    if dates and not postgres:  # timestamps that differ by row: each is formatted once
        formatted: dict[int, Any] = {}
        at = [i for i, c in enumerate(given) if c in dates]
        values = []
        for row in rows:
            items = list(row_values(row))
            for i in at:
                item = items[i]
                key = id(item)
                if key not in formatted:
                    formatted[key] = _sqlite_value(item)
                items[i] = formatted[key]
            values.append(tuple(items) + filled)
    else:
        values = [row_values(row) + filled for row in rows]
    with _wrapped_errors:  # driver errors become peewee's, which the batch retry catches
        if postgres:
            _insert_postgres(db, _statement(*shape, True), values)
        else:
            _insert_sqlite(db, shape, values)


# peewee's mapping of the drivers' exceptions (sqlite3, psycopg2) to its own classes
_wrapped_errors = peewee.__exception_wrapper__  # type: ignore[attr-defined]


def _insert_postgres(db: peewee.Database, sql: str, values: list[tuple[Any, ...]]) -> None:
    from psycopg2.extras import execute_values

    execute_values(db.cursor(), sql, values, page_size=500)


# rows per SQLite statement: one INSERT of many rows costs a quarter less per row than one
# prepared statement run for each row (1.3 vs 1.7 µs, measured alone); a few sizes, so that
# a few statements are prepared and cached
_ROWS_AT_ONCE = (64, 16, 4, 1)


def _insert_sqlite(
    db: peewee.Database,
    shape: tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]],
    values: list[tuple[Any, ...]],
) -> None:
    cursor = db.cursor()
    start = 0
    for size in _ROWS_AT_ONCE:
        while len(values) - start >= size:
            sql = _statement(*shape, False, size)
            cursor.execute(sql, list(chain.from_iterable(values[start : start + size])))
            start += size


def select_in(db: peewee.Database, sql: str, values: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows of `sql`, whose single `IN ({})` is filled with `values` (in chunks)."""
    found: list[tuple[Any, ...]] = []
    mark = "%s" if is_postgres(db) else "?"
    for start in range(0, len(values), 400):
        part = list(values[start : start + 400])
        cursor = db.execute_sql(sql.format(", ".join(mark for _ in part)), part)
        found.extend(cursor.fetchall())
    return found
