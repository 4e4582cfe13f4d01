"""Files: bytes in S3, metadata in DynamoDB, both under the caller's network.

Rules that live here:
- a file belongs to one network; another network's file id is simply not found;
- the S3 key is made from the network and a new file id, never from anything a client
  sends: a file name is metadata only, cleaned for display;
- size and sha256 are computed here from the bytes stored, never taken from a client;
- a record is written only once its bytes are in S3 (inline uploads), or is `pending`
  until the uploader confirms a presigned upload and the bytes are measured in S3;
- files up to `files_inline_max` bytes travel through the API; larger ones only through
  presigned S3 URLs (a Lambda payload cannot carry them);
- declared content types are kept to label downloads, never trusted to render inline;
- an upload with the uploader's idempotency key is made once: a retry returns the first
  file (services/idempotency.py).
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
import unicodedata
from functools import lru_cache

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib.auth.principal import Principal
from chalicelib.clock import now_ms
from chalicelib.config import settings
from chalicelib.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, ValidationFailed
from chalicelib.ids import new_id
from chalicelib.services import idempotency
from chalicelib.services.insight import counters
from chalicelib.store.base import cancelled_by_condition, idempotency_key, page, transaction
from chalicelib.store.files import (PENDING, READY, FileKeyRecord, FileRecord as F, file_key,
                                    object_key, task_key)
from chalicelib.limits import FILE_TASK_ID_MAX as TASK_ID_MAX

URL_TTL_S = 3600                   # presigned download and upload URLs live one hour
UPLOAD_GRACE_S = 24 * 3600         # an unconfirmed upload is swept this long after its URL expires
FILENAME_MAX = 255
METADATA_MAX = 8 * 1024
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_MIME_RE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_HASH_CHUNK = 1024 * 1024

_client_lock = threading.Lock()


@lru_cache(maxsize=1)
def _new_s3_client():
    import boto3  # on first use: most cold starts never touch S3
    from botocore.config import Config
    return boto3.client("s3", region_name=settings().region,
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))


def s3():
    """The S3 client, made once per container (boto3's default session is not thread-safe)."""
    with _client_lock:
        return _new_s3_client()


# --------------------------------------------------------------------------- validation


def clean_filename(name) -> str:
    """A display name: the last path segment, without control characters, at most 255 chars."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = re.split(r"[\\/]", text)[-1]
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C").strip().strip(".")
    return text[:FILENAME_MAX].strip() or "file"


def clean_content_type(value) -> str:
    """The media type without parameters, lower case; unreadable ones become octet-stream."""
    mime = str(value or "").split(";")[0].strip().lower()
    return mime if _MIME_RE.match(mime) else DEFAULT_CONTENT_TYPE


def validate_task_id(task_id) -> str | None:
    if task_id is None or (isinstance(task_id, str) and not task_id.strip()):
        return None
    if not isinstance(task_id, (str, int)) or isinstance(task_id, bool):
        raise ValidationFailed("task_id", "'task_id' must be a string")
    task_id = str(task_id).strip()
    if len(task_id) > TASK_ID_MAX or any(unicodedata.category(c)[0] == "C" for c in task_id):
        raise ValidationFailed("task_id", f"'task_id' must be at most {TASK_ID_MAX} printable "
                                          "characters")
    return task_id


def validate_metadata(metadata) -> dict:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise ValidationFailed("metadata", "'metadata' must be a JSON object")
    if len(json.dumps(metadata, default=str)) > METADATA_MAX:
        raise ValidationFailed("metadata", f"'metadata' must be at most {METADATA_MAX} bytes of JSON")
    return metadata


def validate_file_id(file_id) -> str:
    if not isinstance(file_id, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", file_id):
        raise NotFound(f"file {file_id} not found")
    return file_id


# --------------------------------------------------------------------------- reading


def get(network_id: str, file_id: str) -> F:
    """A file of the network, ready or pending."""
    try:
        return F.get(*file_key(network_id, validate_file_id(file_id)), consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"file {file_id} not found") from None


def get_ready(network_id: str, file_id: str) -> F:
    record = get(network_id, file_id)
    if record.status != READY:
        raise Conflict(f"file {file_id} has not been uploaded yet: confirm the upload first")
    return record


def list_files(network_id: str, *, task_id: str | None = None, limit: int = 50,
               offset: int = 0, cursor: str | None = None) -> tuple[list[F], str | None]:
    """Ready files, newest first: a task's (by_task index) or the whole network's."""
    task_id = validate_task_id(task_id)
    if task_id is None:
        return page(F, f"NET#{network_id}", range_key_condition=F.sk.startswith("FILE#"),
                    filter_condition=F.status == READY, newest_first=True, limit=limit,
                    offset=offset, cursor=cursor)
    return page(F, task_key(network_id, task_id), index=F.by_task,
                filter_condition=F.status == READY, newest_first=True, limit=limit,
                offset=offset, cursor=cursor)


def is_inline(record: F) -> bool:
    """Whether the file's bytes can travel through the API (else: a presigned URL)."""
    return (record.size or 0) <= settings().files_inline_max


def content(record: F) -> bytes:
    if record.status != READY:
        raise Conflict(f"file {record.file_id} has not been uploaded yet")
    if not is_inline(record):
        raise PayloadTooLarge(f"file {record.file_id} is too large to send inline; "
                              "use its presigned download URL")
    got = s3().get_object(Bucket=settings().files_bucket, Key=record.s3_key)
    return got["Body"].read()


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """RFC 6266: an ASCII fallback and the exact UTF-8 name."""
    from urllib.parse import quote
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def download_url(record: F, ttl_s: int = URL_TTL_S) -> str:
    """A presigned GET that serves the file as an attachment with its recorded type."""
    if record.status != READY:
        raise Conflict(f"file {record.file_id} has not been uploaded yet")
    return s3().generate_presigned_url("get_object", ExpiresIn=ttl_s, Params={
        "Bucket": settings().files_bucket, "Key": record.s3_key,
        "ResponseContentType": record.content_type,
        "ResponseContentDisposition": content_disposition(record.filename)})


# --------------------------------------------------------------------------- writing


def _new_record(principal: Principal, *, filename, content_type, task_id, metadata, source,
                status: str, **fields) -> F:
    task_id = validate_task_id(task_id)
    file_id = new_id("file")
    stamp = now_ms()
    return F(*file_key(principal.network_id, file_id), file_id=file_id,
             network_id=principal.network_id, status=status,
             s3_key=object_key(principal.network_id, file_id), filename=clean_filename(filename),
             content_type=clean_content_type(content_type), task_id=task_id,
             task_key=task_key(principal.network_id, task_id) if task_id else None,
             uploaded_by=principal.account_id, user_id=principal.user_id, source=source,
             metadata=validate_metadata(metadata), created_at=stamp, updated_at=stamp, **fields)


class _Keyed:
    """An upload's idempotency key, if it has one: the earlier file it made, and the
    marker to write with a new one."""

    def __init__(self, principal: Principal, key: str | None, fields: dict):
        self.principal, self.key = principal, key
        self.request_hash = idempotency.fingerprint(fields) if key else None

    def earlier(self) -> F | None:
        if not self.key:
            return None
        marker = idempotency.earlier(FileKeyRecord, self.principal.network_id,
                                     self.principal.account_id, self.key, self.request_hash)
        return get(self.principal.network_id, marker.file_id) if marker else None

    def save(self, record: F) -> F:
        """Write a new record, with the marker when keyed (and the day's file counters when
        it is ready); a concurrent retry that wrote its marker first wins, and its file is
        the answer (this one is not written)."""
        try:
            with transaction() as tx:
                tx.save(record, condition=F.pk.does_not_exist())
                if record.status == READY:
                    counters.file_stored(tx, record.network_id, record.size, record.created_at)
                if self.key:
                    tx.save(FileKeyRecord(*idempotency_key(record.network_id,
                                                           self.principal.account_id, self.key),
                                          file_id=record.file_id, request_hash=self.request_hash,
                                          created_at=record.created_at),
                            condition=FileKeyRecord.pk.does_not_exist())
        except TransactWriteError as error:
            previous = cancelled_by_condition(error) and self.earlier()
            if previous:
                return previous
            raise
        return record


def upload(principal: Principal, data: bytes, *, filename=None, content_type=None, task_id=None,
           metadata=None, source: str | None = None, idempotency_key: str | None = None) -> F:
    """Store a file sent inline: bytes to S3 first, then the record (so a record never
    points at missing bytes); if the record cannot be written the bytes are removed."""
    limit = settings().files_inline_max
    if len(data) > limit:
        raise PayloadTooLarge(f"the file is {len(data)} bytes; files over {limit} bytes must "
                              "be uploaded through a presigned URL", limit=limit)
    record = _new_record(principal, filename=filename, content_type=content_type,
                         task_id=task_id, metadata=metadata, source=source, status=READY,
                         size=len(data), sha256=hashlib.sha256(data).hexdigest())
    keyed = _Keyed(principal, idempotency_key, dict(
        sha256=record.sha256, filename=record.filename, content_type=record.content_type,
        task_id=record.task_id, metadata=record.metadata))
    previous = keyed.earlier()
    if previous is not None:
        return previous
    bucket = settings().files_bucket
    s3().put_object(Bucket=bucket, Key=record.s3_key, Body=data, ContentType=record.content_type,
                    ContentDisposition=content_disposition(record.filename))
    try:
        saved = keyed.save(record)
    except Exception:
        s3().delete_object(Bucket=bucket, Key=record.s3_key)
        raise
    if saved is not record:
        s3().delete_object(Bucket=bucket, Key=record.s3_key)
    return saved


def start_upload(principal: Principal, *, filename=None, content_type=None, size=None,
                 task_id=None, metadata=None, source: str | None = None,
                 idempotency_key: str | None = None) -> tuple[F, str]:
    """A pending record and a presigned PUT URL for its bytes (for files of any size up to
    `files_upload_max`); `complete_upload` makes it a file. A retry with the same key gets
    the same record and a fresh URL, until the upload is confirmed."""
    limit = settings().files_upload_max
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValidationFailed("size", "'size' must be a number of bytes")
        if size > limit:
            raise PayloadTooLarge(f"files are limited to {limit} bytes", limit=limit)
    deadline = now_ms() // 1000 + URL_TTL_S + UPLOAD_GRACE_S
    record = _new_record(principal, filename=filename, content_type=content_type,
                         task_id=task_id, metadata=metadata, source=source, status=PENDING,
                         upload_deadline=deadline)
    keyed = _Keyed(principal, idempotency_key, dict(
        size=size, filename=record.filename, content_type=record.content_type,
        task_id=record.task_id, metadata=record.metadata))
    record = keyed.earlier() or keyed.save(record)
    if record.status == READY:
        raise Conflict(f"this upload was made and confirmed already: file {record.file_id}")
    url = s3().generate_presigned_url("put_object", ExpiresIn=URL_TTL_S, Params={
        "Bucket": settings().files_bucket, "Key": record.s3_key})
    return record, url


def complete_upload(principal: Principal, file_id: str) -> F:
    """Confirm a presigned upload: measure the bytes in S3 (size, sha256) and make the file
    ready. Confirming again returns the file unchanged."""
    record = get(principal.network_id, file_id)
    if record.status == READY:
        return record
    _require_owner(principal, record, "confirm this upload")
    bucket, limit = settings().files_bucket, settings().files_upload_max
    try:
        head = s3().head_object(Bucket=bucket, Key=record.s3_key)
    except Exception as error:
        if _is_missing(error):
            raise Conflict("nothing has been uploaded to this file's URL yet: PUT the bytes "
                           "to the upload URL, then confirm") from None
        raise
    if head["ContentLength"] > limit:
        s3().delete_object(Bucket=bucket, Key=record.s3_key)
        raise PayloadTooLarge(f"the upload is {head['ContentLength']} bytes; files are limited "
                              f"to {limit} bytes; it was discarded", limit=limit)
    disposition = content_disposition(record.filename)
    if (head.get("ContentType"), head.get("ContentDisposition")) != (record.content_type,
                                                                     disposition):
        # The uploader's PUT set whatever headers it liked; store the recorded ones, so the
        # object is served right even where response-header overrides are ignored.
        s3().copy_object(Bucket=bucket, Key=record.s3_key, MetadataDirective="REPLACE",
                         CopySource={"Bucket": bucket, "Key": record.s3_key},
                         ContentType=record.content_type, ContentDisposition=disposition)
    digest, size = hashlib.sha256(), 0
    body = s3().get_object(Bucket=bucket, Key=record.s3_key)["Body"]
    for chunk in iter(lambda: body.read(_HASH_CHUNK), b""):
        digest.update(chunk)
        size += len(chunk)
    stamp = now_ms()
    try:
        with transaction() as tx:
            tx.update(record, actions=[F.status.set(READY), F.size.set(size),
                                       F.sha256.set(digest.hexdigest()),
                                       F.upload_deadline.remove(), F.updated_at.set(stamp)],
                      condition=F.status == PENDING)
            counters.file_stored(tx, record.network_id, size, stamp)
    except TransactWriteError as error:
        if cancelled_by_condition(error):  # a concurrent confirmation won; same bytes, same answer
            return get(principal.network_id, file_id)
        raise
    record.status, record.size, record.sha256 = READY, size, digest.hexdigest()
    record.upload_deadline, record.updated_at = None, stamp
    return record


def delete(principal: Principal, file_id: str) -> F:
    """Remove the record, then the bytes: a failure in between leaves an unreachable object,
    never a record without its bytes."""
    record = get(principal.network_id, file_id)
    _require_owner(principal, record, "delete this file")
    try:
        record.delete(condition=F.pk.exists())
    except Exception as error:
        if _condition_failed(error):
            raise NotFound(f"file {file_id} not found") from None
        raise
    s3().delete_object(Bucket=settings().files_bucket, Key=record.s3_key)
    return record


def sweep_abandoned(now_s: int | None = None, records=None) -> int:
    """Remove pending uploads whose deadline passed (jobs pass the by_deadline entries)."""
    now_s = now_ms() // 1000 if now_s is None else now_s
    removed = 0
    for entry in records or ():
        if entry.upload_deadline is None or entry.upload_deadline > now_s:
            continue
        try:
            F(entry.pk, entry.sk).delete(condition=F.status == PENDING)
        except Exception as error:
            if _condition_failed(error):
                continue  # confirmed meanwhile
            raise
        s3().delete_object(Bucket=settings().files_bucket,
                           Key=object_key(*_network_and_file(entry)))
        removed += 1
    return removed


def _network_and_file(entry: F) -> tuple[str, str]:
    return entry.pk.split("#", 1)[1], entry.sk.split("#", 1)[1]


def _require_owner(principal: Principal, record: F, action: str) -> None:
    if principal.is_admin or principal.account_id == record.uploaded_by or (
            principal.user_id and principal.user_id == record.user_id):
        return
    raise Forbidden(f"only the uploader or an administrator can {action}")


def _condition_failed(error) -> bool:
    cause = getattr(error, "cause_response_code", None)
    return cause == "ConditionalCheckFailedException"


def _is_missing(error) -> bool:
    code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")

