"""Scheduled file work: remove presigned uploads that were never confirmed.

Only pending uploads have an entry in the sparse `by_deadline` index, so this Scan reads
what is pending, not the whole files table.
"""
from __future__ import annotations

from chalicelib import logs
from chalicelib.clock import now_ms
from chalicelib.services import files

log = logs.get("jobs")


def sweep_uploads() -> dict:
    now_s = now_ms() // 1000
    from chalicelib.store.files import FileRecord  # the table loads when the job runs
    expired = FileRecord.by_deadline.scan(filter_condition=FileRecord.upload_deadline <= now_s)
    removed = files.sweep_abandoned(now_s, expired)
    log.info("upload sweep", extra={"removed": removed})
    return {"removed": removed}
