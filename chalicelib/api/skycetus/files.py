"""SkyCetus /api/v1/file/*: translation only (rules in services/files.py, HTTP bodies in
api/transfer.py). Larger files use the platform's presigned-URL routes, which accept the
same X-Matrix-Secret."""
from chalicelib.api import transfer
from chalicelib.api.skycetus import router


@router.route("/api/v1/file/upload", methods=["POST"], query=transfer.UploadQuery)
def upload(req):
    record = transfer.store_upload(req, source="skycetus")
    return {"success": True, "file_id": record.file_id, **transfer.describe(record),
            "download_url": f"/api/v1/file/download/{record.file_id}"}


@router.route("/api/v1/file/download/{file_id}")
def download(req, file_id):
    return transfer.download(req.principal.network_id, file_id)
