"""Files: bytes in S3, metadata in DynamoDB, under the caller's network, through SkyCetus and
the platform. (Real sockets, curl and presigned URLs: tests/e2e/test_files.py.)"""
import hashlib
import json
import os

import boto3
from urllib3 import encode_multipart_formdata

from chalicelib.config import settings
from chalicelib.services import files
from chalicelib.store.files import FileRecord

EVERY_BYTE = bytes(range(256)) * 64 + b"\r\n--not-a-boundary\r\n\x00"
PAGE = "<html><script>alert('x')</script><p>Ünïcödé 报告</p></html>\n".encode()


def multipart(fields):
    body, content_type = encode_multipart_formdata(fields)
    return {"raw": body, "headers": {"Content-Type": content_type}}


def sky_upload(sky, data, name="report.html", content_type="text/html", **extra):
    return sky.post("/api/v1/file/upload", **multipart(
        {"file": (name, data, content_type),
         "metadata": json.dumps({"type": "page", "node": "kai-desktop-001"}), **extra}))


def stored_objects():
    listed = boto3.client("s3").list_objects_v2(Bucket=settings().files_bucket)
    return [o["Key"] for o in listed.get("Contents", [])]


def test_skycetus_upload_and_download_round_trip_bytes_with_safe_headers(sky):
    for data, name, content_type in ((PAGE, "report.html", "text/html"),
                                     (EVERY_BYTE, "blob.bin", "application/octet-stream"),
                                     (b"", "empty.txt", "text/plain")):
        uploaded = sky_upload(sky, data, name, content_type)
        assert uploaded.status_code == 200, uploaded.body
        body = uploaded.json
        assert body["success"] is True and body["file_id"].startswith("file_")
        assert body["size"] == len(data) and body["sha256"] == hashlib.sha256(data).hexdigest()
        assert body["metadata"] == {"type": "page", "node": "kai-desktop-001"}

        for accept in ("*/*", None, "application/json"):  # curl/requests, urllib, a JSON client
            got = sky.get(f"/api/v1/file/download/{body['file_id']}",
                          headers={"Accept": accept} if accept else {})
            assert got.status_code == 200 and got.body == data, (name, accept)
            assert got.headers["Content-Type"] == content_type
            assert got.headers["Content-Disposition"].startswith(f'attachment; filename="{name}"')
            assert got.headers["X-Content-Type-Options"] == "nosniff"
            assert "sandbox" in got.headers["Content-Security-Policy"]


def test_platform_files_attach_to_tasks_list_paginate_and_delete(admin):
    ids = []
    for n in range(3):
        made = admin.post("/api/v1/files/upload?task_id=task-42", **multipart(
            {"file": (f"part-{n}.txt", f"part {n}".encode(), "text/plain")}))
        assert made.status_code == 201, made.body
        assert made.json["task_id"] == "task-42" and made.json["status"] == "ready"
        ids.append(made.json["id"])
    other = admin.post("/api/v1/files/upload", **multipart({"file": ("loose.txt", b"x", "text/plain")}))

    first = admin.get("/api/v1/files?task_id=task-42&limit=2")
    assert [f["id"] for f in first.json] == ids[::-1][:2], "newest first"
    rest = admin.get(f"/api/v1/files?task_id=task-42&limit=2&cursor={first.headers['X-Next-Cursor']}")
    assert [f["id"] for f in rest.json] == ids[:1] and "X-Next-Cursor" not in rest.headers
    assert [f["id"] for f in admin.get("/api/v1/files?task_id=task-42&offset=2").json] == ids[:1]
    assert [f["id"] for f in admin.get("/api/v1/files").json] == [other.json["id"], *ids[::-1]]
    assert admin.get("/api/v1/files?task_id=nothing").json == []

    meta = admin.get(f"/api/v1/files/{ids[0]}").json
    assert meta["filename"] == "part-0.txt" and meta["size"] == 6 and meta["content_type"] == "text/plain"
    assert admin.get(f"/api/v1/files/{ids[0]}/download").body == b"part 0"
    url = admin.get(f"/api/v1/files/{ids[0]}/url").json
    assert set(url) == {"url", "filename", "expires_in"} and url["expires_in"] == 3600
    assert url["filename"] == "part-0.txt" and "X-Amz-Signature=" in url["url"]
    assert "attachment" in url["url"], "the presigned URL serves an attachment too"

    assert admin.delete(f"/api/v1/files/{ids[0]}").json["message"] == "File deleted"
    assert admin.get(f"/api/v1/files/{ids[0]}").status_code == 404
    assert admin.delete(f"/api/v1/files/{ids[0]}").status_code == 404
    assert not any(ids[0] in key for key in stored_objects()), "the object is gone too"
    assert len(stored_objects()) == 3


def test_another_networks_file_id_is_404_everywhere(api, sky):
    file_id = sky_upload(sky, PAGE).json["file_id"]
    outsider = api.post("/api/v1/auth/register", {"email": "eve@example.test", "password": "correct-horse-99"})
    eve = api.bearer(outsider.json["access_token"])  # a new organisation: another network
    assert outsider.json["network_id"] != "net_default"
    for path in (f"/api/v1/files/{file_id}", f"/api/v1/files/{file_id}/download",
                 f"/api/v1/files/{file_id}/url", f"/api/v1/file/download/{file_id}"):
        response = eve.get(path)
        assert response.status_code == 404, path
    assert eve.delete(f"/api/v1/files/{file_id}").status_code == 404
    assert eve.post(f"/api/v1/files/{file_id}/complete").status_code == 404
    assert eve.get("/api/v1/files").json == []
    assert sky.get(f"/api/v1/file/download/{file_id}").body == PAGE, "still there for its owner"


def test_file_names_never_reach_a_key_and_bad_uploads_store_nothing(sky, admin):
    sneaky = sky_upload(sky, b"pw", name="../../etc/passwd\x00.txt", content_type="text/html; x=<y>")
    record = files.get("net_default", sneaky.json["file_id"])
    assert record.filename == "passwd.txt" and record.content_type == "text/html"
    assert stored_objects() == [f"files/net_default/{record.file_id}"]
    odd_type = sky_upload(sky, b"x", name="a.bin", content_type="not a type")
    assert odd_type.json["content_type"] == "application/octet-stream"
    before = stored_objects()

    no_file = sky.post("/api/v1/file/upload", **multipart({"metadata": "{}"}))
    assert no_file.status_code == 400 and no_file.json["success"] is False
    assert "'file' is required" in no_file.json["error"]
    bad_meta = sky_upload(sky, b"x", metadata="{not json")
    assert bad_meta.status_code == 400 and "metadata" in bad_meta.json["error"]
    not_multipart = sky.post("/api/v1/file/upload", {"file": "x"})
    assert not_multipart.status_code == 400 and "multipart/form-data" in not_multipart.json["error"]
    broken = sky.post("/api/v1/file/upload", raw=b"--xx\r\nnonsense",
                      headers={"Content-Type": "multipart/form-data; boundary=xx"})
    assert broken.status_code == 400
    bad_task = admin.post("/api/v1/files/upload?task_id=" + "t" * 200,
                          **multipart({"file": ("a.txt", b"x", "text/plain")}))
    assert bad_task.status_code == 422 and bad_task.json["detail"][0]["loc"] == ["query", "task_id"]
    assert stored_objects() == before, "nothing half-written"


def test_uploads_over_the_inline_limit_get_413_saying_what_to_do(sky, admin, settings_env):
    settings_env(SWITCHBOARD_FILES_INLINE_MAX="1024")
    at_limit = sky_upload(sky, os.urandom(1024), "at-limit.bin")
    assert at_limit.status_code == 200
    over = sky_upload(sky, os.urandom(1025), "over.bin")
    assert over.status_code == 413 and over.json["success"] is False
    assert "/api/v1/files/upload-url" in over.json["error"] and "PUT" in over.json["error"]
    platform = admin.post("/api/v1/files/upload", **multipart({"file": ("o.bin", os.urandom(5000))}))
    assert platform.status_code == 413 and "upload-url" in platform.json["detail"]
    assert len(stored_objects()) == 1


def test_presigned_upload_is_measured_in_s3_and_large_downloads_redirect(admin, settings_env):
    settings_env(SWITCHBOARD_FILES_INLINE_MAX="1024")
    started = admin.post("/api/v1/files/upload-url", {"filename": "big.bin", "size": 4096,
                                                      "content_type": "application/zip",
                                                      "task_id": "task-7"})
    assert started.status_code == 201
    issued = started.json
    assert issued["method"] == "PUT" and issued["expires_in"] == 3600 and issued["status"] == "pending"
    assert "X-Amz-Signature=" in issued["upload_url"]
    file_id = issued["file_id"]
    early = admin.post(f"/api/v1/files/{file_id}/complete")
    assert early.status_code == 409 and "PUT" in early.json["detail"]
    assert admin.get(f"/api/v1/files/{file_id}/download").status_code == 409
    assert admin.get("/api/v1/files?task_id=task-7").json == [], "pending files are not listed"

    data = os.urandom(4096)  # the client's PUT to the presigned URL (over real HTTP in e2e)
    files.s3().put_object(Bucket=settings().files_bucket, Key=f"files/net_default/{file_id}", Body=data)
    done = admin.post(f"/api/v1/files/{file_id}/complete")
    assert done.status_code == 200
    assert done.json["size"] == 4096 and done.json["sha256"] == hashlib.sha256(data).hexdigest()
    assert admin.post(f"/api/v1/files/{file_id}/complete").json == done.json, "idempotent"
    assert [f["id"] for f in admin.get("/api/v1/files?task_id=task-7").json] == [file_id]

    redirect = admin.get(f"/api/v1/files/{file_id}/download")
    assert redirect.status_code == 302 and redirect.headers["Location"] == redirect.json["url"]
    assert FileRecord.get("NET#net_default", f"FILE#{file_id}").upload_deadline is None

    too_big = admin.post("/api/v1/files/upload-url", {"filename": "huge", "size": 10 ** 12})
    assert too_big.status_code == 413


def test_oversized_or_abandoned_presigned_uploads_are_discarded(admin, settings_env):
    settings_env(SWITCHBOARD_FILES_UPLOAD_MAX="100")
    file_id = admin.post("/api/v1/files/upload-url", {"filename": "x"}).json["file_id"]
    key = f"files/net_default/{file_id}"
    files.s3().put_object(Bucket=settings().files_bucket, Key=key, Body=b"y" * 101)
    refused = admin.post(f"/api/v1/files/{file_id}/complete")
    assert refused.status_code == 413 and key not in stored_objects()

    from chalicelib.jobs import files as file_jobs
    abandoned = admin.post("/api/v1/files/upload-url", {"filename": "never"}).json["file_id"]
    files.s3().put_object(Bucket=settings().files_bucket, Key=f"files/net_default/{abandoned}",
                          Body=b"z")
    kept = admin.post("/api/v1/files/upload", **multipart({"file": ("k.txt", b"k")})).json["id"]
    assert file_jobs.sweep_uploads() == {"removed": 0}, "nothing is overdue yet"
    record = FileRecord.get("NET#net_default", f"FILE#{abandoned}")
    record.update(actions=[FileRecord.upload_deadline.set(1)])
    assert file_jobs.sweep_uploads()["removed"] == 1
    assert admin.get(f"/api/v1/files/{abandoned}").status_code == 404
    assert stored_objects() == [f"files/net_default/{kept}"], "ready files are untouched"


def test_only_the_uploader_or_an_admin_deletes(api, admin):
    made = admin.post("/api/v1/admin/users", {"email": "bob@example.test", "password": "correct-horse-99"})
    assert made.status_code == 201
    bob = api.bearer(api.post("/api/v1/auth/login", {"email": "bob@example.test",
                                                     "password": "correct-horse-99"}).json["access_token"])
    admins_file = admin.post("/api/v1/files/upload", **multipart({"file": ("a.txt", b"a")})).json["id"]
    bobs_file = bob.post("/api/v1/files/upload", **multipart({"file": ("b.txt", b"b")})).json["id"]
    assert bob.get(f"/api/v1/files/{admins_file}/download").body == b"a", "members read"
    assert bob.delete(f"/api/v1/files/{admins_file}").status_code == 403
    assert bob.delete(f"/api/v1/files/{bobs_file}").status_code == 200
    assert admin.delete(f"/api/v1/files/{admins_file}").status_code == 200
