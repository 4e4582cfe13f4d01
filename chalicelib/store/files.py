"""The files table: metadata of the files whose bytes live in S3.

Keys
- file  pk NET#<net>  sk FILE#<file_id>      (file ids are ULIDs: key order is upload order)
Indexes
- by_task     pk NET#<net>#TASK#<task_id>  sk FILE#<file_id>   a task's files; sparse (only
              files attached to a task), eventually consistent like every GSI
- by_deadline pk upload_deadline (epoch s)                      sparse: only uploads issued a
              presigned URL and not yet confirmed, for the sweep that removes abandoned ones
- idempotency pk NET#<net>#IDEM#<account>  sk KEY#<key>  → the file an upload created
              (store.base.idempotency_key: keys are per principal; FileKeyRecord)
The S3 object of a file is `files/<network_id>/<file_id>`: nothing a client sends reaches a key.
"""
from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection

from chalicelib.store.base import TableModel, meta

READY, PENDING = "ready", "pending"


class ByTask(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_task"
        projection = AllProjection()

    task_key = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class ByDeadline(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_deadline"
        projection = KeysOnlyProjection()

    upload_deadline = NumberAttribute(hash_key=True)


class FileRecord(TableModel):
    Meta = meta("files")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    file_id = UnicodeAttribute()
    network_id = UnicodeAttribute()
    status = UnicodeAttribute()                    # ready | pending (presigned upload not confirmed)
    s3_key = UnicodeAttribute()
    filename = UnicodeAttribute()                  # display name only, never part of a key
    content_type = UnicodeAttribute()              # as declared by the uploader; never trusted inline
    size = NumberAttribute(null=True)              # bytes, as stored in S3
    sha256 = UnicodeAttribute(null=True)           # hex digest of the stored bytes
    task_id = UnicodeAttribute(null=True)
    task_key = UnicodeAttribute(null=True)         # by_task hash key
    uploaded_by = UnicodeAttribute()               # the uploader's account id
    user_id = UnicodeAttribute(null=True)
    source = UnicodeAttribute(null=True)           # the dialect it came in through
    metadata = JSONAttribute(default=dict)         # the uploader's own fields (SkyCetus `metadata`)
    upload_deadline = NumberAttribute(null=True)   # by_deadline hash key while pending
    created_at = NumberAttribute()                 # epoch ms
    updated_at = NumberAttribute(null=True)

    by_task = ByTask()
    by_deadline = ByDeadline()


class FileKeyRecord(TableModel):
    """An upload's idempotency marker, in the files table beside the file it created."""
    Meta = meta("files")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    file_id = UnicodeAttribute()
    request_hash = UnicodeAttribute()
    created_at = NumberAttribute()


def file_key(network_id: str, file_id: str) -> tuple[str, str]:
    return f"NET#{network_id}", f"FILE#{file_id}"


def task_key(network_id: str, task_id: str) -> str:
    return f"NET#{network_id}#TASK#{task_id}"


def object_key(network_id: str, file_id: str) -> str:
    return f"files/{network_id}/{file_id}"
