"""One text file written the way a ledger must be: every change durable and whole.

The cost of a write does not grow with the file (a 10,000-order import must not slow
down as the ledger grows):
- `append` adds text with one write(2) on an O_APPEND descriptor, then fsync. If the
  write fails part-way (disk full, file-size limit), the file is cut back to its size
  before, so a failed append leaves nothing behind;
- `patch` overwrites bytes in place (a one-byte flag: a single byte cannot be torn),
  after checking they still say what the caller expects;
- `replace` (rare: a draft changed before it was booked) writes a temporary file that
  replaces the ledger atomically, so a kill at any instant leaves a whole ledger.

A kill during an append's write(2) can still leave the front part of it (the kernel
stops a write between pages for a fatal signal, and a power cut keeps what reached the
disk): the ledger's reader finds such a tail and gives it to `cut`.

`stamp` tells the reader whether anyone but this object changed the file since.
"""

from __future__ import annotations

import os
from pathlib import Path


class LedgerFile:
    def __init__(self, path: Path):
        self.path = path
        self._stamp: tuple[int, int, int] | None = None  # the file as this object last left it

    def read(self) -> bytes:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        self._stamp = self._current()
        return data

    def changed(self) -> bool:
        """Whether the file is not as this object last read or wrote it (edited by hand, replaced)."""
        return self._stamp is None or self._current() != self._stamp

    def size(self) -> int:
        stamp = self._current()
        return stamp[1] if stamp else 0

    def exists(self) -> bool:
        return self._current() is not None

    def append(self, data: bytes) -> int:
        """Append `data` whole or not at all; returns the offset it starts at."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            start = os.fstat(fd).st_size
            try:
                written = 0
                while written < len(data):  # one write(2) unless the kernel takes less
                    written += os.write(fd, data[written:])
                os.fsync(fd)
            except OSError:
                _cut(fd, start)
                raise
            self._stamp = _stamp_of(os.fstat(fd))
            return start
        finally:
            os.close(fd)

    def patch(self, offset: int, expected: bytes, new: bytes) -> None:
        """Overwrite `expected` at `offset` with `new` (same length), durably."""
        if len(expected) != len(new):
            raise ValueError("a patch keeps the length")
        fd = os.open(self.path, os.O_RDWR)
        try:
            found = os.pread(fd, len(expected), offset)
            if found != expected:
                raise LookupError(f"{self.path}: expected {expected!r} at byte {offset}, found {found!r}")
            os.pwrite(fd, new, offset)
            os.fsync(fd)
            self._stamp = _stamp_of(os.fstat(fd))
        finally:
            os.close(fd)

    def cut(self, size: int) -> None:
        """Drop everything from byte `size` on (a torn append's front part)."""
        fd = os.open(self.path, os.O_RDWR)
        try:
            _cut(fd, size)
            self._stamp = _stamp_of(os.fstat(fd))
        finally:
            os.close(fd)

    def replace(self, data: bytes) -> None:
        """The whole file becomes `data`, atomically (temporary file, fsync, rename, fsync the folder)."""
        import tempfile

        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        self._stamp = self._current()

    def _current(self) -> tuple[int, int, int] | None:
        try:
            return _stamp_of(self.path.stat())
        except FileNotFoundError:
            return None


def _stamp_of(stat: os.stat_result) -> tuple[int, int, int]:
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _cut(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError:
        pass  # the reader finds the torn tail on the next run and cuts it then
