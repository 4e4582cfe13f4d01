"""Platform /api/v1/files: translation only (rules in services/files.py, HTTP bodies in
api/transfer.py).

Beyond the platform's list: files larger than a Lambda payload go through
`POST /api/v1/files/upload-url` (a presigned S3 PUT) and `POST /api/v1/files/{id}/complete`.
Lists are bare arrays, newest first, with `limit`/`offset` and the next `cursor` in the
`X-Next-Cursor` header.
"""
from chalice import Response

from chalicelib.api import transfer
from chalicelib.api.inputs import Page
from chalicelib.api.platform import router
from chalicelib.services import files


class FileQuery(Page):
    task_id: transfer.TaskRef | None = None


@router.route("/api/v1/files", query=FileQuery)
def list_files(req):
    query = req.params
    found, cursor = files.list_files(req.principal.network_id, task_id=query.task_id,
                                     limit=query.limit, offset=query.offset, cursor=query.cursor)
    return Response(body=[transfer.describe(r) for r in found],
                    headers={"X-Next-Cursor": cursor} if cursor else {})


@router.route("/api/v1/files/upload", methods=["POST"], query=transfer.UploadQuery)
def upload(req):
    return Response(body=transfer.describe(transfer.store_upload(req, source="platform")),
                    status_code=201)


@router.route("/api/v1/files/upload-url", methods=["POST"], body=transfer.NewUpload)
def upload_url(req):
    body = req.body
    record, url = files.start_upload(req.principal, filename=body.filename,
                                     content_type=body.content_type, size=body.size,
                                     task_id=body.task_id, metadata=body.metadata,
                                     source="platform", idempotency_key=req.idempotency_key())
    return Response(status_code=201, body={
        **transfer.describe(record), "file_id": record.file_id, "upload_url": url,
        "method": "PUT", "expires_in": files.URL_TTL_S,
        "complete_url": f"/api/v1/files/{record.file_id}/complete"})


@router.route("/api/v1/files/{file_id}/complete", methods=["POST"])
def complete(req, file_id):
    return transfer.describe(files.complete_upload(req.principal, file_id))


@router.route("/api/v1/files/{file_id}")
def metadata(req, file_id):
    return transfer.describe(files.get(req.principal.network_id, file_id))


@router.route("/api/v1/files/{file_id}/download")
def download(req, file_id):
    return transfer.download(req.principal.network_id, file_id)


@router.route("/api/v1/files/{file_id}/url")
def presigned_url(req, file_id):
    record = files.get_ready(req.principal.network_id, file_id)
    return {"url": files.download_url(record), "filename": record.filename,
            "expires_in": files.URL_TTL_S}


@router.route("/api/v1/files/{file_id}", methods=["DELETE"])
def delete(req, file_id):
    files.delete(req.principal, file_id)
    return {"message": "File deleted", "id": file_id}
