"""Keeps the local stack's data: recovery at start, the journal while it runs, compaction.

At start: a data directory from the snapshot-only stack is converted, the current
generation is loaded and the journal replayed (storage.recover), and a new journal
segment is opened and attached to the emulator, so from then on every acknowledged write
is in the journal before its caller hears back.

While running: when the open segment passes `SWITCHBOARD_LOCAL_COMPACT_BYTES` (64 MiB by
default), it is closed and a child process folds the closed segments into a new snapshot
generation; writers only wait for the segment switch, never for the snapshot.

At a clean stop: the journal is closed and folded into a snapshot in process, so the next
start reads one generation and no journal.

`SWITCHBOARD_LOCAL_JOURNAL=off` keeps nothing: the stack starts empty and forgets
everything when it stops (throwaway stacks, and the journal's cost in bench.durability).
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

from infra.local import storage
from infra.local.journal import Journal

DEFAULT_COMPACT_BYTES = 64 * 1024 * 1024
log = logging.getLogger("switchboard.local")


class Persistence:
    def __init__(self, data_dir: Path, emulator):
        self.enabled = os.environ.get("SWITCHBOARD_LOCAL_JOURNAL", "on").strip().lower() != "off"
        self.mode = os.environ.get("SWITCHBOARD_LOCAL_FSYNC", "batch").strip().lower()
        self.compact_bytes = int(os.environ.get("SWITCHBOARD_LOCAL_COMPACT_BYTES")
                                 or DEFAULT_COMPACT_BYTES)
        self.directory = storage.DataDirectory(data_dir, fsync=self.mode != "off")
        self.emulator = emulator
        self.journal: Journal | None = None
        self._compactor: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._monitor = None

    def open(self) -> dict:
        if not self.enabled:
            return {"restored": {}, "generation": None, "next_segment": None}
        storage.migrate_legacy(self.directory, self.emulator.dynamodb.key_attributes())
        recovered = storage.recover(self.directory, self.emulator)
        self.journal = Journal(self.directory.journal_dir, recovered["next_segment"], self.mode)
        self.emulator.attach_journal(self.journal, self.directory)
        self._monitor = threading.Thread(target=self._watch, name="compaction", daemon=True)
        self._monitor.start()
        return recovered

    def describe(self) -> str:
        if not self.enabled:
            return "none: nothing is kept (SWITCHBOARD_LOCAL_JOURNAL=off)"
        return f"journal, fsync {self.mode}"

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            if self._compactor is not None and self._compactor.poll() is None:
                continue
            if self._compactor is not None and self._compactor.returncode != 0:
                log.error("compaction failed (exit %s); the journal keeps everything",
                          self._compactor.returncode)
            self._compactor = None
            if self.journal.bytes_in_segment >= self.compact_bytes:
                self.compact_in_background()

    def compact_in_background(self) -> subprocess.Popen:
        closed = self.journal.rotate()
        self._compactor = subprocess.Popen(
            [sys.executable, "-m", "infra.local.storage", "compact", str(self.directory.root),
             str(closed)], cwd=Path(__file__).resolve().parents[2],
            env={**os.environ, "SWITCHBOARD_LOCAL_FSYNC": self.mode})
        return self._compactor

    def close(self) -> None:
        """Close the journal and fold it into a snapshot (the next start loads just that)."""
        self._stop.set()
        if self._monitor is not None:
            self._monitor.join(timeout=5)
        if self._compactor is not None:
            self._compactor.wait()
        if self.journal is not None:
            self.journal.close()
            storage.compact(self.directory, self.journal.segment)
