"""The run store: one SQLite file per study output folder (WAL, transactions).

A row per task: key (hash of kind, inputs, dependency keys and code version), kind, label,
inputs, status (pending, running, complete, failed, skipped), start/end times, host,
versions, output paths, result JSON, error, attempts. Concurrent writers (Dask workers) are
safe: every write is a short transaction with a busy timeout.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["RunStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    inputs TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    started REAL,
    finished REAL,
    host TEXT,
    versions TEXT,
    outputs TEXT,
    result TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
);
"""


class RunStore:
    """SQLite-backed task table at ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)

    @contextmanager
    def _connect(self):
        con = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        try:
            con.execute("PRAGMA busy_timeout=60000")
            yield con
        finally:
            con.close()

    def _write(self, sql: str, args: tuple) -> None:
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                con.execute(sql, args)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def register(self, key: str, kind: str, label: str, inputs: dict[str, Any]) -> None:
        """Insert a pending task unless it exists."""
        self._write(
            "INSERT OR IGNORE INTO tasks(key, kind, label, inputs) VALUES (?, ?, ?, ?)",
            (key, kind, label, json.dumps(inputs, sort_keys=True, default=str)),
        )

    def start(self, key: str, versions: dict[str, str]) -> None:
        """Mark running (attempts + 1)."""
        self._write(
            "UPDATE tasks SET status='running', started=?, host=?, versions=?, error=NULL, "
            "attempts=attempts+1 WHERE key=?",
            (time.time(), socket.gethostname(), json.dumps(versions), key),
        )

    def complete(self, key: str, result: dict[str, Any], outputs: dict[str, str]) -> None:
        """Mark complete with its result and output paths."""
        self._write(
            "UPDATE tasks SET status='complete', finished=?, result=?, outputs=? WHERE key=?",
            (time.time(), json.dumps(result, default=float), json.dumps(outputs), key),
        )

    def fail(self, key: str, error: str) -> None:
        """Mark failed with the error text."""
        self._write("UPDATE tasks SET status='failed', finished=?, error=? WHERE key=?", (time.time(), error, key))

    def skip(self, key: str, reason: str) -> None:
        """Mark skipped (a dependency failed)."""
        self._write("UPDATE tasks SET status='skipped', finished=?, error=? WHERE key=?", (time.time(), reason, key))

    def get(self, key: str) -> dict[str, Any] | None:
        """One row as a dict (JSON columns decoded)."""
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            row = con.execute("SELECT * FROM tasks WHERE key=?", (key,)).fetchone()
        return None if row is None else _decode(dict(row))

    def rows(self) -> list[dict[str, Any]]:
        """All rows."""
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            rows = con.execute("SELECT * FROM tasks ORDER BY rowid").fetchall()
        return [_decode(dict(r)) for r in rows]


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for k in ("inputs", "versions", "outputs", "result"):
        if row.get(k):
            row[k] = json.loads(row[k])
    return row
