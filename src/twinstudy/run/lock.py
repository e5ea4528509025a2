"""One writer per results database, and runs whose process died shown as interrupted.

Two runs of one database at once would each ask every trial they do not yet see finished: twice
the requests, twice the spend. A run therefore holds an exclusive ``flock`` on ``<db>.lock`` for
its whole life and writes its pid into the file. The kernel drops the lock when the process ends,
however it ends, so a lock left by a run killed with ``kill -9`` is never an obstacle: the next run
takes it, sees the dead run's pid still written in the file, says so, and marks that run's row
``interrupted`` (a run row still ``running`` whose lock is free has no process behind it).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from twinstudy.errors import UserError

try:  # POSIX; elsewhere the lock is advisory-only and always granted
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

INTERRUPTED_REASON = "the process ended without finishing the run (killed or crashed)"


def lock_path(db: str | Path) -> Path:
    p = Path(db)
    return p.with_name(p.name + ".lock")


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


@dataclass
class DatabaseLock:
    """The exclusive right to run a study into one database; a context manager."""

    db: Path
    stale_pid: int | None = None  # pid of a killed run whose lock was taken over
    _fd: int | None = None

    def acquire(self) -> DatabaseLock:
        """Take the lock or raise a UserError naming the process that holds it."""
        path = lock_path(self.db)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                holder = _read_pid(path)
                who = f"another run (pid {holder})" if holder else "another run"
                raise UserError(
                    f"{who} is using {self.db}; wait for it to finish or stop it"
                    + (f" (kill {holder})" if holder else "")
                    + ", or give this run its own --db.") from None
        previous = _read_pid(path)
        if previous is not None and previous != os.getpid():
            self.stale_pid = previous
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        return self

    def release(self) -> None:
        """Clear the pid (a clean end leaves nothing to take over) and drop the lock."""
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
        finally:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> DatabaseLock:
        return self.acquire()

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def is_locked(db: str | Path) -> bool:
    """Whether a live process holds the database's run lock (checked without taking it for long)."""
    path = lock_path(db)
    if fcntl is None or not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # also releases the probe's lock if it got it
    return False


def mark_interrupted(conn: sqlite3.Connection) -> int:
    """Call while holding the lock: every run row still ``running`` belongs to a dead process."""
    cur = conn.execute("UPDATE runs SET status='interrupted', stop_reason=coalesce(stop_reason, ?), "
                       "finished_at=coalesce(finished_at, started_at) WHERE status='running'",
                       (INTERRUPTED_REASON,))
    return int(cur.rowcount or 0)


def shown_status(status: str, db: str | Path) -> str:
    """The status to show for a run row: ``running`` only while some process holds the lock."""
    if status == "running" and not is_locked(db):
        return "interrupted"
    return status
