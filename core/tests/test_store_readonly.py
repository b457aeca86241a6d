"""SQLiteStore(readonly=True): what `smsgate messages/show/logs/outbox` open. It reads an existing database and
creates nothing: no file, no folder, no schema."""

from __future__ import annotations

import asyncio
import os
import sqlite3

import pytest
from smsgate import OutgoingMessage
from smsgate.errors import StoreUnavailable
from smsgate.store import SQLiteStore


def test_a_missing_database_is_an_error_and_nothing_is_created(tmp_path):
    target = tmp_path / "not" / "here" / "smsgate.sqlite3"
    with pytest.raises(FileNotFoundError) as error:
        SQLiteStore(target, readonly=True)
    assert error.value.filename == str(target)
    assert os.listdir(tmp_path) == []
    with pytest.raises(FileNotFoundError):
        SQLiteStore(tmp_path, readonly=True)  # a folder is not a database either


def test_reads_what_a_writer_stored_and_cannot_write(tmp_path):
    path = tmp_path / "smsgate.sqlite3"

    async def go() -> None:
        writer = SQLiteStore(path)
        record = (await writer.add_outgoing(OutgoingMessage("ch", "+250788383383", "hello"))).record
        reader = SQLiteStore(path, readonly=True)
        try:
            # while the writer is still open (a running gateway), and without taking its write lock
            assert [m.id for m in await reader.list_messages()] == [record.id]
            await writer.add_outgoing(OutgoingMessage("ch", "+250788383383", "second"))
            assert len(await reader.list_messages()) == 2
            with pytest.raises(StoreUnavailable, match="readonly"):
                await reader.add_outgoing(OutgoingMessage("ch", "+250788383383", "never stored"))
        finally:
            await reader.close()
            await writer.close()
        assert len(await _messages(path)) == 2

    asyncio.run(go())


async def _messages(path):
    store = SQLiteStore(path, readonly=True)
    try:
        return await store.list_messages()
    finally:
        await store.close()


def test_a_file_that_is_not_an_smsgate_database_is_refused_unchanged(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not sqlite\n")
    with pytest.raises(sqlite3.DatabaseError):
        SQLiteStore(notes, readonly=True)
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(sqlite3.OperationalError, match="no such table: messages"):
        SQLiteStore(other, readonly=True)
    assert notes.read_text() == "not sqlite\n"
    tables = sqlite3.connect(other).execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == [("t",)]  # no schema added
