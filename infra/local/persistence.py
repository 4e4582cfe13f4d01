"""Keeps the emulator's data across restarts of the local stack.

moto holds everything in memory, so the stack snapshots DynamoDB items and S3 objects
into the data directory (periodically when something changed, and at shutdown) and
loads them back at start. Files are replaced atomically; S3 bodies are only
re-downloaded when their ETag changes.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class Snapshotter:
    def __init__(self, data_dir: Path, dynamodb, s3, table_names, bucket: str, read_items):
        """`dynamodb` writes items back at start; `read_items(table)` lists a table's items
        for a snapshot."""
        self.tables_dir = data_dir / "dynamodb"
        self.s3_dir = data_dir / "s3" / bucket
        self.tables_dir.mkdir(parents=True, exist_ok=True)
        (self.s3_dir / "objects").mkdir(parents=True, exist_ok=True)
        self.dynamodb, self.s3, self.read_items = dynamodb, s3, read_items
        self.table_names, self.bucket = list(table_names), bucket
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ restore

    def restore(self) -> dict:
        counts = {}
        for table in self.table_names:
            path = self.tables_dir / f"{table}.jsonl"
            if not path.exists():
                continue
            items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            for start in range(0, len(items), 25):
                requests = [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]
                pending = {table: requests}
                while pending:
                    pending = self.dynamodb.batch_write_item(RequestItems=pending).get(
                        "UnprocessedItems") or {}
            counts[table] = len(items)
        index = self._s3_index()
        for key, entry in index.items():
            body = (self.s3_dir / "objects" / entry["file"]).read_bytes()
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body,
                               ContentType=entry.get("content_type") or "binary/octet-stream",
                               Metadata=entry.get("metadata") or {})
        counts["s3_objects"] = len(index)
        return counts

    # ------------------------------------------------------------------ save

    def save(self) -> None:
        with self._lock:
            for table in self.table_names:
                lines = [json.dumps(item, sort_keys=True) for item in self.read_items(table)]
                _atomic_write(self.tables_dir / f"{table}.jsonl", ("\n".join(lines) + "\n").encode())
            self._save_s3()

    def _s3_index(self) -> dict:
        path = self.s3_dir / "index.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def _save_s3(self) -> None:
        old = self._s3_index()
        new = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for obj in page.get("Contents", []):
                key, etag = obj["Key"], obj["ETag"]
                file_name = hashlib.sha256(key.encode()).hexdigest()
                if old.get(key, {}).get("etag") == etag:
                    new[key] = old[key]
                    continue
                got = self.s3.get_object(Bucket=self.bucket, Key=key)
                _atomic_write(self.s3_dir / "objects" / file_name, got["Body"].read())
                new[key] = {"file": file_name, "etag": etag, "content_type": got.get("ContentType"),
                            "metadata": got.get("Metadata") or {}}
        for key, entry in old.items():
            if key not in new:
                (self.s3_dir / "objects" / entry["file"]).unlink(missing_ok=True)
        _atomic_write(self.s3_dir / "index.json", json.dumps(new, indent=1).encode())
