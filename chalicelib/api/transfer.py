"""File bodies over HTTP, for every dialect that moves files: reading a multipart upload
and answering a download. The rules (limits, keys, checksums) are in services/files.py.

Wire choices:
- uploads are `multipart/form-data` (declared a binary type, so API Gateway hands the body
  over base64 and nothing is mangled); the file is the part named `file`, or the only part
  with a file name; `metadata` is a JSON object; `task_id` may come in the query, as a form
  field or inside `metadata`;
- downloads carry the bytes base64 in the Lambda result whatever the content type, as an
  attachment with `X-Content-Type-Options: nosniff` and a sandboxing CSP, so an uploaded
  page is never rendered as ours; files too large for a Lambda answer redirect (302) to a
  presigned S3 URL.
"""
from __future__ import annotations

import base64
import io
import json
from typing import Annotated, NamedTuple

from chalice import Response
from msgspec import Meta

from chalicelib.api.inputs import Input, Object, check_value
from chalicelib.clock import iso
from chalicelib.config import settings
from chalicelib.errors import MalformedBody, PayloadTooLarge, ValidationFailed
from chalicelib.limits import FILE_TASK_ID_MAX
from chalicelib.services import files

UPLOAD_URL_PATH = "/api/v1/files/upload-url"
MAX_PARTS = 32

# A file's task is stored as given (services/files.py checks it is printable).
TaskRef = Annotated[str, Meta(max_length=FILE_TASK_ID_MAX)]


class UploadQuery(Input):
    """An inline upload's query: the multipart body carries the rest."""
    task_id: TaskRef | None = None


class NewUpload(Input):
    """A presigned upload: what the file will be (`size` may come in the query string)."""
    filename: Annotated[str, Meta(max_length=1024)] | None = None
    content_type: Annotated[str, Meta(max_length=255)] | None = None
    size: Annotated[int, Meta(ge=0)] | None = None
    task_id: TaskRef | None = None
    metadata: Object | None = None


def too_large_message(size: int | None = None) -> str:
    limit = settings().files_inline_max
    sent = f"this upload is {size} bytes; " if size is not None else ""
    return (f"{sent}files over {limit} bytes cannot be sent inline. "
            f"POST {UPLOAD_URL_PATH} with {{filename, content_type, size, task_id}} to get a "
            "presigned `upload_url`, PUT the bytes there, then POST "
            "/api/v1/files/{file_id}/complete to record the file")


class Upload(NamedTuple):
    data: bytes
    filename: str | None
    content_type: str | None
    metadata: dict
    task_id: str | None = None


def read_upload(req) -> Upload:
    """The file and its fields from a multipart/form-data request."""
    import multipart  # lazily: only uploads need the parser

    header = req.headers.get("content-type") or ""
    mime, options = multipart.parse_options_header(header)
    if mime != "multipart/form-data" or not options.get("boundary"):
        raise ValidationFailed("file", "send the file as multipart/form-data with a `file` field "
                                       "(curl -F 'file=@report.html')")
    raw = req.raw_body
    limit = settings().files_inline_max
    if len(raw) > limit + 64 * 1024:  # the file alone is over the limit whatever the framing
        raise PayloadTooLarge(too_large_message(len(raw)), limit=limit)
    parser = multipart.MultipartParser(io.BytesIO(raw), options["boundary"], content_length=len(raw),
                                       part_limit=MAX_PARTS, spool_limit=len(raw) + 1,
                                       memory_limit=len(raw) + 1)
    try:
        parts = parser.parts()
        fields = {p.name: p.value for p in parts if p.filename is None and p.name}
    except (multipart.MultipartError, UnicodeDecodeError) as error:
        raise MalformedBody(f"the multipart body cannot be read: {error}") from None
    uploaded = [p for p in parts if p.filename is not None]
    chosen = next((p for p in uploaded if p.name == "file"), None)
    if chosen is None and len(uploaded) == 1:
        chosen = uploaded[0]
    if chosen is None and uploaded:
        raise ValidationFailed("file", "several files were sent: name the one to store `file`")
    if chosen is None:
        raise ValidationFailed("file", "'file' is required: a multipart part named `file` "
                                       "with a file name")
    if chosen.size > limit:
        raise PayloadTooLarge(too_large_message(chosen.size), limit=limit)
    metadata = _metadata(fields.get("metadata"))
    task_id = req.params.task_id or fields.get("task_id") or metadata.get("task_id")
    return Upload(data=chosen.raw, filename=chosen.filename, content_type=chosen.content_type,
                  metadata=metadata, task_id=task_id)


def store_upload(req, source: str):
    """Read a multipart upload and store it as the caller's file."""
    sent = read_upload(req)
    return files.upload(req.principal, sent.data, filename=sent.filename,
                        content_type=sent.content_type, task_id=sent.task_id,
                        metadata=sent.metadata, source=source,
                        idempotency_key=req.idempotency_key())


def _metadata(text: str | None) -> dict:
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise ValidationFailed("metadata", "'metadata' must be a JSON object") from None
    if not isinstance(value, dict):
        raise ValidationFailed("metadata", "'metadata' must be a JSON object")
    return check_value(Object, value, ("body", "metadata"))


class FileResponse(Response):
    """Raw bytes, base64-encoded in the Lambda result whatever their content type.

    Chalice base64-encodes only bodies whose Content-Type is a declared binary type, and
    refuses those unless the request's Accept matches one; a download must work for any
    content type and any client (curl, requests and browsers send `*/*`, urllib sends no
    Accept). So the Content-Type is added when the response is serialized, after that
    check; the deployed REST API declares `*/*` binary so API Gateway decodes the bytes.
    """

    def __init__(self, body: bytes, content_type: str, headers: dict):
        super().__init__(body=body, status_code=200, headers=headers)
        self.content_type = content_type

    def to_dict(self, binary_types=None):
        result = Response(body="", status_code=self.status_code,
                          headers={**self.headers, "Content-Type": self.content_type}).to_dict()
        result["body"] = base64.b64encode(self.body).decode("ascii")
        result["isBase64Encoded"] = True
        return result


def download(network_id: str, file_id: str) -> Response:
    """The file's bytes, or a redirect to a presigned URL when they are too large to carry."""
    record = files.get_ready(network_id, file_id)
    if not files.is_inline(record):
        url = files.download_url(record)
        return Response(body={"url": url, "filename": record.filename,
                              "expires_in": files.URL_TTL_S},
                        status_code=302, headers={"Location": url, "Cache-Control": "no-store"})
    return FileResponse(files.content(record), record.content_type, headers={
        "Content-Disposition": files.content_disposition(record.filename),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=0",
        "ETag": f'"{record.sha256}"',
    })


def describe(record) -> dict:
    """A file's metadata as every dialect shows it (each adds its own names)."""
    return {"id": record.file_id, "filename": record.filename,
            "content_type": record.content_type, "size": record.size, "sha256": record.sha256,
            "task_id": record.task_id, "status": record.status,
            "uploaded_by": record.user_id or record.uploaded_by,
            "metadata": record.metadata or {}, "created_at": iso(record.created_at),
            "updated_at": iso(record.updated_at)}
