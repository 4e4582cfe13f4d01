"""Files over real sockets: SkyCetus' own curl example, byte-exact round trips up to the
inline limit through the local API Gateway, and presigned S3 URLs (moto server) used by a
plain HTTP client."""
import hashlib
import json
import os
import shutil
import subprocess

import pytest
import requests

INLINE_MAX = 4 * 1024 * 1024

# From the SkyCetus Hub API reference, verbatim but for the secret and the host.
SKYCETUS_CURL_EXAMPLE = """curl -X POST \\
-H "X-Matrix-Secret: ***REDACTED***" \\
-F "file=@report.html" \\
-F 'metadata={"type":"page","node":"kai-desktop-001"}' \\
http://api.skycetus.cn:19104/api/v1/file/upload"""


@pytest.fixture
def sky_headers(creds):
    return {"X-Matrix-Secret": creds["shared_secret"]}


@pytest.fixture
def admin_headers(creds):
    return {"Authorization": f"Bearer {creds['admin_token']}"}


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_skycetus_curl_example_works_verbatim(stack, creds, tmp_path, sky_headers):
    page = "<html><body><h1>Daily report — 日报</h1><script>alert(1)</script></body></html>\n"
    (tmp_path / "report.html").write_text(page, encoding="utf-8")
    command = SKYCETUS_CURL_EXAMPLE.replace("***REDACTED***", creds["shared_secret"]) \
        .replace("http://api.skycetus.cn:19104", stack.base_url)
    done = subprocess.run(["bash", "-c", command + " --silent --show-error"], cwd=tmp_path,
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["success"] is True and answer["file_id"]
    assert answer["filename"] == "report.html" and answer["content_type"] == "text/html"
    assert answer["metadata"] == {"type": "page", "node": "kai-desktop-001"}
    assert answer["sha256"] == hashlib.sha256(page.encode()).hexdigest()

    fetched = subprocess.run(
        ["curl", "--silent", "--show-error", "--fail", "-D", "-", "-o", str(tmp_path / "got.html"),
         "-H", f"X-Matrix-Secret: {creds['shared_secret']}",
         f"{stack.base_url}/api/v1/file/download/{answer['file_id']}"],
        capture_output=True, timeout=30)
    assert fetched.returncode == 0, fetched.stderr
    assert (tmp_path / "got.html").read_bytes() == page.encode()
    headers = fetched.stdout.decode().lower()
    assert "content-type: text/html" in headers and "content-disposition: attachment" in headers
    assert "x-content-type-options: nosniff" in headers


@pytest.mark.parametrize("size", [0, 1, 3 * 1024 * 1024 + 7, INLINE_MAX])
def test_binary_round_trips_exactly_up_to_the_inline_limit(stack, sky_headers, admin_headers, size):
    data = os.urandom(size) if size > 1 else b"\r"[:size]
    up = requests.post(stack.url("/api/v1/files/upload?task_id=e2e-task"), headers=admin_headers,
                       files={"file": ("blob.bin", data, "application/octet-stream")}, timeout=60)
    assert up.status_code == 201, up.text
    assert up.json()["size"] == size and up.json()["sha256"] == hashlib.sha256(data).hexdigest()
    file_id = up.json()["id"]
    for path, headers in ((f"/api/v1/files/{file_id}/download", admin_headers),
                          (f"/api/v1/file/download/{file_id}", sky_headers)):
        got = requests.get(stack.url(path), headers=headers, timeout=60)
        assert got.status_code == 200 and got.content == data, path
        assert got.headers["Content-Type"] == "application/octet-stream"


def test_text_round_trips_exactly_and_oversize_gets_413_with_instructions(stack, sky_headers):
    text = ("línea 1\r\nline 2 — ✓\n\x00tail" * 1000).encode()
    up = requests.post(stack.url("/api/v1/file/upload"), headers=sky_headers,
                       files={"file": ("notes.txt", text, "text/plain; charset=utf-8")},
                       data={"metadata": json.dumps({"node": "kai"})}, timeout=30)
    assert up.status_code == 200, up.text
    got = requests.get(stack.url(f"/api/v1/file/download/{up.json()['file_id']}"),
                       headers=sky_headers, timeout=30)
    assert got.content == text and got.headers["Content-Type"] == "text/plain"

    over = requests.post(stack.url("/api/v1/file/upload"), headers=sky_headers,
                         files={"file": ("big.bin", os.urandom(INLINE_MAX + 1))}, timeout=60)
    assert over.status_code == 413
    assert over.json()["success"] is False and "/api/v1/files/upload-url" in over.json()["error"]


def test_presigned_urls_work_with_a_plain_http_client(stack, admin_headers, creds):
    data = os.urandom(INLINE_MAX + 2 * 1024 * 1024)  # too large for any Lambda payload
    issued = requests.post(stack.url("/api/v1/files/upload-url"), headers=admin_headers,
                           json={"filename": "dataset.tar", "content_type": "application/x-tar",
                                 "size": len(data), "task_id": "e2e-big"}, timeout=30)
    assert issued.status_code == 201, issued.text
    upload = issued.json()
    put = requests.put(upload["upload_url"], data=data, timeout=60)  # straight to S3 (moto)
    assert put.status_code == 200, put.text
    done = requests.post(stack.url(upload["complete_url"]), headers=admin_headers, timeout=60)
    assert done.status_code == 200, done.text
    assert done.json()["size"] == len(data)
    assert done.json()["sha256"] == hashlib.sha256(data).hexdigest()

    presigned = requests.get(stack.url(f"/api/v1/files/{upload['file_id']}/url"),
                             headers=admin_headers, timeout=30).json()
    assert presigned["filename"] == "dataset.tar" and presigned["expires_in"] == 3600
    direct = requests.get(presigned["url"], timeout=60)  # no credentials: the URL is the grant
    assert direct.status_code == 200 and direct.content == data
    assert direct.headers["Content-Type"] == "application/x-tar"
    assert direct.headers["Content-Disposition"].startswith('attachment; filename="dataset.tar"')

    followed = requests.get(stack.url(f"/api/v1/file/download/{upload['file_id']}"),
                            headers={"X-Matrix-Secret": creds["shared_secret"]}, timeout=60)
    assert followed.history and followed.history[0].status_code == 302
    assert followed.content == data, "a download too large for Lambda redirects to S3"


def test_another_networks_file_id_is_404_over_http(stack, sky_headers):
    file_id = requests.post(stack.url("/api/v1/file/upload"), headers=sky_headers,
                            files={"file": ("secret.txt", b"only ours")}, timeout=30).json()["file_id"]
    org = requests.post(stack.url("/api/v1/auth/register"),
                        json={"email": "mallory@example.test", "password": "correct-horse-99"}, timeout=30)
    assert org.status_code == 201, org.text
    other = {"Authorization": f"Bearer {org.json()['access_token']}"}
    for path in (f"/api/v1/files/{file_id}", f"/api/v1/files/{file_id}/download",
                 f"/api/v1/files/{file_id}/url", f"/api/v1/file/download/{file_id}"):
        assert requests.get(stack.url(path), headers=other, timeout=30).status_code == 404, path
    assert requests.delete(stack.url(f"/api/v1/files/{file_id}"), headers=other,
                           timeout=30).status_code == 404
