"""The local stack's data directory: snapshot generations, the journal, S3 bodies.

    <data>/CURRENT               the name of the current generation (one line)
    <data>/gen-<n>/              a snapshot of every table and the S3 index, covering the
        tables/<table>.jsonl     journal up to and including segment <n>
        s3.json
    <data>/journal/<m>.log       journal segments (see journal.py); those after <n> replay
    <data>/objects/<sha256>      S3 object bodies, by content, shared by snapshots and journal

Recovery loads the current generation and replays the journal segments after it, so the
emulator holds exactly what was acknowledged. Compaction folds closed segments into a new
generation, written beside the old one and switched to by replacing CURRENT atomically; a
crash at any point leaves either the old generation with its segments or the new one, and
leftovers are removed at the next start. Compaction reads only files, never the live
emulator, so it runs in a child process (`python -m infra.local.storage compact <data> <n>`)
while the stack keeps serving.

This module is deliberately free of moto: recovery hands what it reads to a `Loader`
(infra/local/dynamodb.py and s3.py implement it on moto's backends).
"""
from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Iterable, Protocol

from infra.local.journal import sync_directory, read_segment, segment_number, segments

log = logging.getLogger("switchboard.local")


class Loader(Protocol):
    def load_items(self, table: str, images: Iterable[dict]) -> None: ...
    def apply_items(self, changes: list) -> None: ...          # [[table, key, image|None]]
    def load_object(self, bucket: str, key: str, body: bytes, metadata: dict) -> None: ...
    def delete_object(self, bucket: str, key: str) -> None: ...


def key_string(key: dict) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


def _write_durably(path: Path, data: bytes, fsync: bool = True) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        if fsync:
            os.fsync(handle.fileno())
    os.replace(tmp, path)


class DataDirectory:
    def __init__(self, root: Path, fsync: bool = True):
        self.root = root
        self.fsync = fsync
        self.journal_dir = root / "journal"
        self.objects_dir = root / "objects"
        for directory in (root, self.journal_dir, self.objects_dir):
            directory.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ generations

    def current(self) -> int | None:
        pointer = self.root / "CURRENT"
        if not pointer.exists():
            return None
        return int(pointer.read_text().strip().removeprefix("gen-"))

    def _generation_dir(self, number: int) -> Path:
        return self.root / f"gen-{number:08d}"

    def read_generation(self, number: int | None, *,
                        keyed: bool = True) -> tuple[dict[str, dict], dict[str, dict]]:
        """({table: {key string: [key, image]}}, {bucket: {object key: entry}}); unkeyed
        (recovery only loads), each table is a list of [key, image]."""
        tables: dict[str, dict] = {}
        s3: dict[str, dict] = {}
        if number is None:
            return tables, s3
        directory = self._generation_dir(number)
        for path in sorted((directory / "tables").glob("*.jsonl")):
            with open(path, "rb") as handle:
                rows = [json.loads(line) for line in handle if line.strip()]
            tables[path.stem] = {key_string(key): [key, image] for key, image in rows} \
                if keyed else rows
        index = directory / "s3.json"
        if index.exists():
            s3 = json.loads(index.read_text())
        return tables, s3

    def write_generation(self, number: int, tables: dict[str, dict], s3: dict) -> None:
        """Write generation `number` beside the current one, then switch CURRENT to it."""
        final = self._generation_dir(number)
        staging = final.with_name(final.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "tables").mkdir(parents=True)
        for table, rows in tables.items():
            lines = b"".join(json.dumps(row, separators=(",", ":")).encode() + b"\n"
                             for row in rows.values())
            _write_durably(staging / "tables" / f"{table}.jsonl", lines, self.fsync)
        _write_durably(staging / "s3.json", json.dumps(s3).encode(), self.fsync)
        if self.fsync:
            sync_directory(staging / "tables")
            sync_directory(staging)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staging, final)
        _write_durably(self.root / "CURRENT", f"{final.name}\n".encode(), self.fsync)
        if self.fsync:
            sync_directory(self.root)

    def remove_superseded(self) -> None:
        """Generations other than the current one, staging leftovers, and the journal
        segments the current generation already holds."""
        current = self.current()
        for path in self.root.glob("gen-*"):
            if path.name.endswith(".tmp") or current is None or \
                    path.name != self._generation_dir(current).name:
                shutil.rmtree(path, ignore_errors=True)
        if current is not None:
            for segment in segments(self.journal_dir):
                if segment_number(segment) <= current:
                    segment.unlink(missing_ok=True)

    # ------------------------------------------------------------------ objects

    def store_object(self, body: bytes) -> str:
        """Write an S3 body (before the journal record that names it); its content hash."""
        digest = hashlib.sha256(body).hexdigest()
        path = self.objects_dir / digest
        if not path.exists():
            _write_durably(path, body, self.fsync)
        return digest

    def read_object(self, digest: str) -> bytes:
        return (self.objects_dir / digest).read_bytes()

    def remove_unreferenced_objects(self, referenced: set[str]) -> int:
        removed = 0
        for path in self.objects_dir.iterdir():
            if path.name not in referenced:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    # ------------------------------------------------------------------ journal

    def segments_after(self, number: int | None) -> list[Path]:
        return [s for s in segments(self.journal_dir)
                if number is None or segment_number(s) > number]

    def read_journal(self, after: int | None, *, repair: bool):
        """Yield the records of every segment after generation `after`, in order. A torn
        tail is ignored with a warning and, with `repair`, cut off the file."""
        for segment in self.segments_after(after):
            records, ignored, valid = read_segment(segment)
            if ignored:
                log.warning("journal %s: ignored %d torn or corrupt record(s) at its end",
                            segment.name, ignored)
                if repair:
                    os.truncate(segment, valid)
            yield from records


def apply_record(record: dict, tables: dict[str, dict], s3: dict) -> None:
    """Fold one journal record into snapshot-shaped state (compaction)."""
    for table, key, image in record.get("d", ()):
        rows = tables.setdefault(table, {})
        if image is None:
            rows.pop(key_string(key), None)
        else:
            rows[key_string(key)] = [key, image]
    for bucket, key, digest, metadata in record.get("s3", ()):
        objects = s3.setdefault(bucket, {})
        if digest is None:
            objects.pop(key, None)
        else:
            objects[key] = {"file": digest, "metadata": metadata}


# --------------------------------------------------------------------------- recovery

def recover(directory: DataDirectory, loader: Loader) -> dict:
    """Load the current generation and replay the journal after it into `loader`.
    Returns what was restored, and the first journal segment number to write next."""
    # Loading creates millions of long-lived objects: the cyclic collector would rescan
    # them all again and again (several seconds with 50k items) and find nothing to free.
    # Frozen afterwards, they stay out of later full collections too (pauses in requests).
    gc.disable()
    try:
        return _recover(directory, loader)
    finally:
        gc.freeze()
        gc.enable()


def _recover(directory: DataDirectory, loader: Loader) -> dict:
    directory.remove_superseded()
    generation = directory.current()
    tables, s3 = directory.read_generation(generation, keyed=False)
    counts = {}
    for table, rows in tables.items():
        loader.load_items(table, (image for _, image in rows))
        counts[table] = len(rows)
    referenced = set()
    for bucket, objects in s3.items():
        for key, entry in objects.items():
            loader.load_object(bucket, key, directory.read_object(entry["file"]),
                               entry["metadata"])
            referenced.add(entry["file"])
    replayed = 0
    for record in directory.read_journal(generation, repair=True):
        if record.get("d"):
            loader.apply_items(record["d"])
        for bucket, key, digest, metadata in record.get("s3", ()):
            if digest is None:
                loader.delete_object(bucket, key)
            else:
                loader.load_object(bucket, key, directory.read_object(digest), metadata)
                referenced.add(digest)
        replayed += 1
    directory.remove_unreferenced_objects(referenced)
    existing = [segment_number(s) for s in directory.segments_after(None)]
    next_segment = max(existing + [generation or 0]) + 1
    counts["journal_records"] = replayed
    counts["s3_objects"] = sum(len(objects) for objects in s3.values())
    return {"restored": counts, "generation": generation, "next_segment": next_segment}


def migrate_legacy(directory: DataDirectory, key_attributes: dict[str, list[str]]) -> bool:
    """Turn a data directory written by the snapshot-only stack (`dynamodb/<table>.jsonl`,
    `s3/<bucket>/index.json`) into generation 0. True when there was one."""
    legacy_tables, legacy_s3 = directory.root / "dynamodb", directory.root / "s3"
    if directory.current() is not None or not (legacy_tables.exists() or legacy_s3.exists()):
        return False
    tables: dict[str, dict] = {}
    for path in legacy_tables.glob("*.jsonl"):
        names = key_attributes.get(path.stem)
        if names is None:
            continue
        rows = tables[path.stem] = {}
        for line in path.read_text().splitlines():
            if line.strip():
                image = json.loads(line)
                key = {name: image[name] for name in names}
                rows[key_string(key)] = [key, image]
    s3: dict[str, dict] = {}
    for index in legacy_s3.glob("*/index.json"):
        objects = s3[index.parent.name] = {}
        for key, entry in json.loads(index.read_text()).items():
            body = (index.parent / "objects" / entry["file"]).read_bytes()
            metadata = {f"x-amz-meta-{k}": v for k, v in (entry.get("metadata") or {}).items()}
            if entry.get("content_type"):
                metadata["content-type"] = entry["content_type"]
            objects[key] = {"file": directory.store_object(body), "metadata": metadata}
    directory.write_generation(0, tables, s3)
    shutil.rmtree(legacy_tables, ignore_errors=True)
    shutil.rmtree(legacy_s3, ignore_errors=True)
    return True


def compact(directory: DataDirectory, upto: int) -> int | None:
    """Fold the journal segments up to `upto` into a new generation; its number, or None
    when there is nothing to fold."""
    generation = directory.current()
    if generation is not None and generation >= upto:
        return None
    tables, s3 = directory.read_generation(generation)
    for segment in directory.segments_after(generation):
        if segment_number(segment) > upto:
            break
        records, ignored, _ = read_segment(segment)
        if ignored:
            log.warning("journal %s: ignored %d torn or corrupt record(s) at its end",
                        segment.name, ignored)
        for record in records:
            apply_record(record, tables, s3)
    directory.write_generation(upto, tables, s3)
    directory.remove_superseded()
    return upto


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "compact":
        sys.stderr.write("usage: python -m infra.local.storage compact <data dir> <segment>\n")
        return 2
    logging.basicConfig(level=logging.INFO)
    fsync = os.environ.get("SWITCHBOARD_LOCAL_FSYNC", "batch") != "off"
    compact(DataDirectory(Path(argv[1]), fsync=fsync), int(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
