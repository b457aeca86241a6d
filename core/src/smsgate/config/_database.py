"""What a `[gateway] database` value names, checked and shown without its password (no smsgate imports: the
config validates with it).

    smsgate.sqlite3, /var/lib/smsgate.db     a SQLite file (the embedded default)
    sqlite:///relative.db, sqlite:////abs.db  the same as a URL (three slashes, then the path)
    postgresql://user:password@host:5432/db   PostgreSQL (`postgres://` too); other query parameters are
                                              server settings, e.g. `?search_path=smsgate`
"""

from __future__ import annotations

import urllib.parse

__all__ = ["describe", "is_postgres", "missing_driver", "sqlite_path", "url_password", "validate_database"]

_POSTGRES = ("postgresql://", "postgres://")


def is_postgres(database: str) -> bool:
    """Whether `database` names a PostgreSQL database."""
    return database.strip().lower().startswith(_POSTGRES)


def missing_driver(database: str) -> str | None:
    """Why the driver `database` needs cannot be imported here, or None (SQLite's is in the standard library)."""
    if not is_postgres(database):
        return None
    try:
        import asyncpg  # noqa: F401 - importable is what is asked
    except ImportError:
        return "a postgresql:// database needs the asyncpg driver, which is not installed: " \
               "pip install 'smsgate[postgresql]'"
    return None


def sqlite_path(database: str) -> str:
    """The SQLite file a `database` value names (a path, or `sqlite:///path`)."""
    if database.lower().startswith("sqlite:///"):
        return urllib.parse.unquote(database[len("sqlite:///"):])
    return database


def validate_database(database: str) -> str:
    """`database` if it names a backend smsgate has, else ValueError saying what is accepted."""
    value = database.strip()
    if not value:
        raise ValueError("must not be empty")
    if is_postgres(value):
        parts = urllib.parse.urlsplit(value)
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise ValueError("the port of the postgresql:// URL is not a number") from None
        if not parts.path.strip("/"):
            raise ValueError("a postgresql:// URL must name its database: postgresql://user:password@host:5432/db")
        return value
    scheme = urllib.parse.urlsplit(value).scheme
    if "://" in value and scheme.lower() != "sqlite":
        raise ValueError(f"unknown database scheme {scheme!r}: use a SQLite path, sqlite:///path or "
                         "postgresql://user:password@host:port/db")
    if value.lower().startswith("sqlite:") and not value.lower().startswith("sqlite:///"):
        raise ValueError("a SQLite URL is sqlite:/// followed by the path")
    return value


def url_password(database: str) -> str | None:
    """The password inside a database URL (a secret: masked wherever the URL shows), or None."""
    if not is_postgres(database):
        return None
    parts = urllib.parse.urlsplit(database.strip())
    if parts.password:
        return urllib.parse.unquote(parts.password)
    query = urllib.parse.parse_qs(parts.query)
    return query["password"][-1] if query.get("password") else None  # libpq also takes ?password=


def describe(database: str) -> str:
    """`database` as it may be shown: a URL's password replaced by `***`."""
    if not is_postgres(database):
        return database
    parts = urllib.parse.urlsplit(database.strip())
    if parts.password is not None:
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    if parts.query:
        pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        parts = parts._replace(query="&".join(f"{k}={'***' if k == 'password' else v}" for k, v in pairs))
    return urllib.parse.urlunsplit(parts)
