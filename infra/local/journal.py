"""The local stack's write-ahead journal: one checksummed record per acknowledged write.

Every mutating DynamoDB request and every S3 object change is appended here, in the order
the emulator applied them, and made durable before the caller is answered. A record holds
the after-images of the items (or objects) the request changed, so replaying it is a plain
put or delete: recovery needs no expression engine and gives exactly the acknowledged state.

Records are framed as one line each: `<length:8 hex> <crc32:8 hex> <json>\\n`. A record
whose frame, length or checksum does not match (a write torn by a crash) ends the readable
journal; `read_segment` reports how many records it had to ignore.

Group commit: writers append to a buffer in apply order (under the emulator's lock) and
then wait, outside the lock, until their record is written. The first waiter to find no
write in progress writes everything buffered so far in one `write()` (and one fsync when
the mode asks for it); the others wait for it, so concurrent writers share a flush.

Durability modes (`SWITCHBOARD_LOCAL_FSYNC`):
- `always`: fsync before answering: an acknowledged write survives power loss;
- `batch` (default): written to the OS before answering, fsynced at most a second later:
  survives a crash or kill of the process; power loss can cost the last second;
- `off`: written to the OS before answering, never fsynced by us.

Segments: the journal is a series of files `journal/<n>.log`. A compaction (see
storage.py) closes the current segment and opens the next, so the closed ones can be
folded into a snapshot without stopping writers.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import zlib
from pathlib import Path

MODES = ("always", "batch", "off")
BATCH_FSYNC_INTERVAL_S = 1.0
log = logging.getLogger("switchboard.local")


def encode(record: dict) -> bytes:
    payload = json.dumps(record, separators=(",", ":")).encode()
    return b"%08x %08x " % (len(payload), zlib.crc32(payload)) + payload + b"\n"


def read_segment(path: Path) -> tuple[list[dict], int, int]:
    """The records of one segment, how many trailing records were unreadable, and the
    length of the readable part."""
    data = path.read_bytes()
    records, offset = [], 0
    while offset < len(data):
        header = data[offset:offset + 18]
        try:
            length, checksum = int(header[0:8], 16), int(header[9:17], 16)
            if header[8:9] != b" " or header[17:18] != b" ":
                raise ValueError("bad frame")
            payload = data[offset + 18:offset + 18 + length]
            if len(payload) != length or data[offset + 18 + length:offset + 19 + length] != b"\n" \
                    or zlib.crc32(payload) != checksum:
                raise ValueError("torn or corrupt record")
            records.append(json.loads(payload))
        except ValueError:
            ignored = data[offset:].count(b"\n") or 1
            return records, ignored, offset
        offset += 19 + length
    return records, 0, offset


def segment_number(path: Path) -> int:
    return int(path.stem)


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.log"), key=segment_number)


class Journal:
    def __init__(self, directory: Path, first_segment: int, mode: str = "batch"):
        if mode not in MODES:
            raise ValueError(f"SWITCHBOARD_LOCAL_FSYNC must be one of {', '.join(MODES)}, "
                             f"not {mode!r}")
        self.directory = directory
        self.mode = mode
        directory.mkdir(parents=True, exist_ok=True)
        self._condition = threading.Condition()
        self._buffer: list[bytes] = []
        self._appended = 0      # records appended so far (positions are 1-based)
        self._written = 0       # records written to the file
        self._writing = False
        self._dirty = False     # written but not yet fsynced (batch mode)
        self._closed = False
        self.segment = first_segment
        self._file = open(self._path(first_segment), "ab")
        self.bytes_in_segment = self._file.tell()
        self.records_written = 0
        self._syncer = None
        if mode == "batch":
            self._syncer = threading.Thread(target=self._sync_loop, name="journal-fsync",
                                            daemon=True)
            self._syncer.start()

    def _path(self, number: int) -> Path:
        return self.directory / f"{number:08d}.log"

    # ------------------------------------------------------------------ writers

    def append(self, record: dict) -> int:
        """Queue a record; call in apply order. Its position, for `wait`."""
        frame = encode(record)
        with self._condition:
            if self._closed:
                raise RuntimeError("the journal is closed")
            self._buffer.append(frame)
            self._appended += 1
            return self._appended

    def wait(self, position: int) -> None:
        """Return once the record at `position` is written (and fsynced in `always` mode)."""
        with self._condition:
            while self._written < position:
                if self._writing:
                    self._condition.wait()
                    continue
                self._writing = True
                batch, upto = self._buffer, self._appended
                self._buffer = []
                self._condition.release()
                try:
                    self._write(batch)
                finally:
                    self._condition.acquire()
                    self._writing = False
                    self._written = upto
                    self._condition.notify_all()

    def _write(self, batch: list[bytes]) -> None:
        data = b"".join(batch)
        self._file.write(data)
        self._file.flush()
        if self.mode == "always":
            os.fdatasync(self._file.fileno())
        else:
            self._dirty = True
        self.bytes_in_segment += len(data)
        self.records_written += len(batch)

    def _sync_loop(self) -> None:
        while not self._closed:
            time.sleep(BATCH_FSYNC_INTERVAL_S)
            self.sync()

    def sync(self) -> None:
        """fsync what has been written (batch mode's timer; rotation; shutdown)."""
        with self._condition:
            while self._writing:
                self._condition.wait()
            if self._dirty and not self._file.closed:
                os.fdatasync(self._file.fileno())
                self._dirty = False

    # ------------------------------------------------------------------ segments

    def rotate(self) -> int:
        """Write out and close the current segment and start the next. The number of the
        segment closed: everything up to it can now be compacted."""
        with self._condition:
            self._finish_segment()
            closed = self.segment
            self.segment += 1
            self._file = open(self._path(self.segment), "ab")
            self.bytes_in_segment = 0
            sync_directory(self.directory)
            return closed

    def close(self) -> None:
        with self._condition:
            self._finish_segment()
            self._closed = True

    def _finish_segment(self) -> None:
        """Write what is buffered, fsync and close the open segment (condition held)."""
        while self._writing:
            self._condition.wait()
        if self._buffer:
            self._write(self._buffer)
            self._buffer = []
            self._written = self._appended
            self._condition.notify_all()
        if not self._file.closed:
            os.fdatasync(self._file.fileno())
            self._file.close()
        self._dirty = False


def sync_directory(directory: Path) -> None:
    """Make a file creation or rename in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
