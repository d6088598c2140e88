"""Bulk geocoding jobs through the API, with the real geocoder on the demo city
(泸州): upload (CSV in UTF-8/GBK, .xlsx), file-level 4xx, per-row errors, progress,
results as CSV/.xlsx, cancel, delete, and who may see a job."""

from __future__ import annotations

import csv
import io
from uuid import UUID

import pytest
from openpyxl import load_workbook
from rest_framework.test import APIClient

from accounts.services import apikey_issue, user_create
from geocoding.jobs import GEOCODE_RESULT_COLUMNS
from jobs.models import Job, JobRow, JobStatus
from jobs.runner import job_run
from jobs.services import job_dir

from .conftest import csv_upload, xlsx_upload

URL = "/api/v1/geocode/jobs"
PASSWORD = "Civgrid-Test-2024"
JIANGYANG = "510502000000"  # 江阳区 (district A)
LONGMATAN = "510504000000"  # 龙马潭区 (district B)
HEADER = ["编号", "详细地址", "备注"]
GOOD = [
    ["A1", "泸州市江阳区酒城大道50号", "x"],
    ["A2", "江阳区江阳西路45号", "y"],
]


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def operator_a(db):
    return user_create(username="jobs-a", password=PASSWORD, roles=["operator"], region_code=JIANGYANG)


@pytest.fixture
def api_a(operator_a) -> APIClient:
    return _client(operator_a)


@pytest.fixture
def api_a2(db) -> APIClient:
    """Another user of the same district."""
    return _client(
        user_create(username="jobs-a2", password=PASSWORD, roles=["operator"], region_code=JIANGYANG)
    )


@pytest.fixture
def api_b(db) -> APIClient:
    return _client(
        user_create(username="jobs-b", password=PASSWORD, roles=["operator"], region_code=LONGMATAN)
    )


def _key_client(name: str) -> APIClient:
    issued = apikey_issue(name=name, scopes=["geocode:read"], region_code=JIANGYANG)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.token}")
    return client


def _submit(client: APIClient, upload, column: str = "详细地址", **form) -> dict:
    response = client.post(URL, {"file": upload, "column": column, **form}, format="multipart")
    assert response.status_code == 202, response.json()
    return response.json()


def _run(body: dict) -> None:
    assert job_run(job_id=UUID(body["id"])) == "succeeded"


def _csv_result(client: APIClient, body: dict) -> list[list[str]]:
    response = client.get(f"{URL}/{body['id']}/result?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


# ------------------------------------------------------------------ upload and run


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_upload_runs_and_reports_progress(api_a, encoding):
    body = _submit(api_a, csv_upload([HEADER, *GOOD], encoding=encoding), city="泸州")
    assert body["status"] == "queued" and body["kind"] == "geocode"
    assert body["column"] == "详细地址" and body["columns"] == HEADER
    assert body["options"] == {"city": "泸州", "crs": "wgs84"}
    assert (body["total_rows"], body["done_rows"], body["progress"]["percent"]) == (2, 0, 0.0)
    assert set(body["links"]) == {"self", "cancel"}

    _run(body)
    job = api_a.get(body["links"]["self"]).json()
    assert (job["status"], job["done_rows"], job["error_rows"]) == ("succeeded", 2, 0)
    assert job["progress"]["percent"] == 100.0 and job["progress"]["eta_seconds"] is None
    assert job["started_at"] and job["finished_at"] and job["row_errors"] == []
    assert set(job["links"]) == {"self", "result_csv", "result_xlsx"}


def test_location_header_and_list_of_own_jobs(api_a, api_a2):
    response = api_a.post(
        URL, {"file": csv_upload([HEADER, *GOOD]), "column": "详细地址"}, format="multipart"
    )
    assert response.status_code == 202
    assert response["Location"] == f"{URL}/{response.json()['id']}"
    _submit(api_a2, csv_upload([HEADER, *GOOD]))

    listed = api_a.get(URL).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == response.json()["id"]
    assert api_a.get(URL, {"status": "succeeded"}).json()["count"] == 0


def test_xlsx_upload_with_any_column_name(api_a):
    rows = [["序号", "地址（请填写）", "电话"], [1, "泸州市江阳区酒城大道50号", 13912345678]]
    body = _submit(api_a, xlsx_upload(rows), column="地址（请填写）")
    _run(body)
    result = _csv_result(api_a, body)
    assert result[0][:3] == ["序号", "地址（请填写）", "电话"]
    assert result[1][:3] == ["1", "泸州市江阳区酒城大道50号", "13912345678"]
    assert result[1][3] == "ok"


def test_bad_rows_are_reported_per_row_and_the_job_succeeds(api_a):
    rows = [
        HEADER,
        GOOD[0],
        ["B1", "", "empty"],
        ["B2", "x" * 600, "too long"],
        ["B3", "😀😀😀", "emoji"],
        ["B4", "'; DROP TABLE jobs_job; --", "sql"],
        ["B5", "江阳区", "ragged", "extra"],
        ["B6", "火星路1号", "nowhere"],
        ["B7", "龙马潭区成都路20号", "district B"],
        GOOD[1],
    ]
    body = _submit(api_a, csv_upload(rows), id_column="编号")
    _run(body)
    job = api_a.get(body["links"]["self"]).json()
    assert (job["status"], job["done_rows"], job["error_rows"]) == ("succeeded", 9, 4)
    errors = {e["id"]: e for e in job["row_errors"]}
    assert set(errors) == {"B1", "B2", "B3", "B5"}
    assert errors["B1"]["error"] == "地址为空"
    assert "过长" in errors["B2"]["error"]
    assert errors["B5"] == {"row": 6, "line": 7, "id": "B5", "error": "第 7 行有 4 列，表头只有 3 列"}

    result = _csv_result(api_a, body)
    status = {r[0]: r[3] for r in result[1:]}
    # SQL-looking text is just text; an address elsewhere is "outside", not an error and no point
    assert status == {
        "A1": "ok", "B1": "", "B2": "invalid", "B3": "invalid", "B4": "not_found", "B5": "",
        "B6": "not_found", "B7": "outside", "A2": "ok",
    }  # fmt: skip


def test_result_csv_has_every_input_column_then_every_field_in_input_order(api_a):
    body = _submit(api_a, csv_upload([HEADER, GOOD[1], ["C1", "", "z"], GOOD[0]]), crs="gcj02")
    _run(body)
    result = _csv_result(api_a, body)
    assert result[0] == [*HEADER, *GEOCODE_RESULT_COLUMNS, "error"]
    assert [r[0] for r in result[1:]] == ["A2", "C1", "A1"]
    row = dict(zip(result[0], result[3], strict=True))
    assert row["详细地址"] == "泸州市江阳区酒城大道50号" and row["备注"] == "x"
    assert (row["status"], row["match_level"], row["crs"]) == ("ok", "door", "gcj02")
    assert float(row["lon"]) > 105.4 and float(row["lat"]) > 28.8
    assert row["address"].endswith("酒城大道50号")
    assert row["grid_code"].startswith("510502") and row["grid_name"]
    assert (row["province"], row["province_code"]) == ("四川省", "510000000000")
    assert (row["city"], row["district"], row["district_code"]) == ("泸州市", "江阳区", JIANGYANG)
    assert row["street"] and row["street_code"].startswith("510502")
    assert row["community"] and row["community_code"].startswith("510502")
    assert "酒城大道" in row["components"] and row["error"] == ""
    empty = dict(zip(result[0], result[2], strict=True))
    assert empty["status"] == "" and empty["error"] == "地址为空"


def test_result_xlsx(api_a):
    rows = [HEADER, GOOD[0], ['=HYPERLINK("http://evil")', "江阳区江阳西路45号", "#N/A"]]
    body = _submit(api_a, csv_upload(rows))
    _run(body)
    assert (job_dir(body["id"]) / "result.xlsx").exists()  # written by the worker, not by the download
    response = api_a.get(f"{URL}/{body['id']}/result?format=xlsx")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == [*HEADER, *GEOCODE_RESULT_COLUMNS, "error"]
    first = dict(zip(values[0], values[1], strict=True))
    assert first["编号"] == "A1" and first["status"] == "ok" and isinstance(first["lon"], float)
    assert values[2][0] == '=HYPERLINK("http://evil")'  # text, not a formula
    assert sheet.cell(row=3, column=1).data_type == "s" and sheet.cell(row=3, column=3).data_type == "s"


def test_result_csv_makes_formulas_inert_and_keeps_numbers(api_a):
    rows = [HEADER, ['=HYPERLINK("http://evil")', "江阳区江阳西路45号", "-12.5"], ["@SUM(A1)", "", "+cmd|x"]]
    body = _submit(api_a, csv_upload(rows))
    _run(body)
    result = _csv_result(api_a, body)
    assert result[1][0] == '\'=HYPERLINK("http://evil")' and result[1][2] == "-12.5"
    assert result[2][0] == "'@SUM(A1)" and result[2][2] == "'+cmd|x"


# ------------------------------------------------------------------ file-level problems


def _error(client: APIClient, data: dict, status: int) -> dict:
    response = client.post(URL, data, format="multipart")
    assert response.status_code == status, response.json()
    return response.json()["error"]


def test_missing_column_names_the_columns_there_are(api_a, media_root):
    error = _error(api_a, {"file": csv_upload([HEADER, *GOOD]), "column": "地址"}, 400)
    assert error["code"] == "missing_column"
    assert "“编号”、“详细地址”、“备注”" in error["message"]
    assert error["details"] == {"column": "地址", "columns": HEADER}
    error = _error(api_a, {"file": csv_upload([HEADER, *GOOD]), "column": "详细地址", "id_column": "ID"}, 400)
    assert error["details"]["id_column"] == "ID"
    assert Job.objects.count() == 0
    assert not any((media_root / "jobs").iterdir())  # a refused upload leaves no file behind


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"column": "详细地址"}, "missing_file"),
        ({"file": csv_upload([HEADER, *GOOD])}, "missing_column"),
        ({"file": csv_upload([]), "column": "详细地址"}, "empty_file"),
        ({"file": csv_upload([HEADER]), "column": "详细地址"}, "empty_file"),
        ({"file": csv_upload([HEADER], name="a.xls"), "column": "详细地址"}, "unsupported_format"),
        ({"file": csv_upload([HEADER, *GOOD], name="a.xlsx"), "column": "详细地址"}, "unreadable_file"),
        ({"file": csv_upload([HEADER, *GOOD]), "column": "详细地址", "crs": "epsg:9999"}, "unknown_crs"),
        ({"file": csv_upload([HEADER, *GOOD]), "column": "详细地址", "city": "不存在市"}, "invalid_city"),
        ({"file": csv_upload([HEADER, *GOOD]), "column": "详细地址", "encoding": "nope"}, "bad_encoding"),
    ],
)
def test_bad_uploads_are_clear_400s(api_a, data, code):
    assert _error(api_a, data, 400)["code"] == code


def test_too_many_rows_or_bytes_is_413(api_a, settings):
    settings.CIVGRID = {**settings.CIVGRID, "GEOCODE_JOB_MAX_ROWS": 2}
    error = _error(api_a, {"file": csv_upload([HEADER, *GOOD, GOOD[0]]), "column": "详细地址"}, 413)
    assert error["code"] == "too_many_rows" and error["details"] == {"max_rows": 2}
    _submit(api_a, csv_upload([HEADER, *GOOD]))  # exactly at the limit

    settings.CIVGRID = {**settings.CIVGRID, "IMPORT_MAX_BYTES": 50}
    assert (
        _error(api_a, {"file": csv_upload([HEADER, *GOOD]), "column": "详细地址"}, 413)["code"] == "too_large"
    )


# ------------------------------------------------------------------ cancel, unfinished results, delete


def test_result_of_an_unfinished_job_is_409(api_a):
    body = _submit(api_a, csv_upload([HEADER, *GOOD]))
    response = api_a.get(f"{URL}/{body['id']}/result?format=csv")
    assert response.status_code == 409 and response.json()["error"]["code"] == "job_not_finished"
    assert api_a.get(f"{URL}/{body['id']}/result?format=pdf").status_code == 400


def test_cancel(api_a):
    body = _submit(api_a, csv_upload([HEADER, *GOOD]))
    response = api_a.post(f"{URL}/{body['id']}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert job_run(job_id=UUID(body["id"])) == "skipped"  # its message, when it comes, does nothing
    again = api_a.post(f"{URL}/{body['id']}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "job_finished"
    # what was done before cancelling (nothing here) can be downloaded
    assert _csv_result(api_a, body) == [[*HEADER, *GEOCODE_RESULT_COLUMNS, "error"]]
    response = api_a.get(f"{URL}/{body['id']}/result?format=xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert sheet.max_row == 1


def test_delete_removes_the_job_its_rows_and_files(api_a, django_capture_on_commit_callbacks):
    body = _submit(api_a, csv_upload([HEADER, *GOOD]))
    _run(body)
    assert job_dir(body["id"]).exists()
    with django_capture_on_commit_callbacks(execute=True):  # the files go once the delete commits
        assert api_a.delete(body["links"]["self"]).status_code == 204
    assert api_a.get(body["links"]["self"]).status_code == 404
    assert not Job.objects.filter(pk=body["id"]).exists()
    assert not JobRow.objects.filter(job_id=body["id"]).exists()
    assert not job_dir(body["id"]).exists()


# ------------------------------------------------------------------ who sees a job


def test_other_users_and_districts_get_404(api_a, api_a2, api_b, admin_api):
    body = _submit(api_a, csv_upload([HEADER, *GOOD]))
    _run(body)
    for client in (api_a2, api_b):
        assert client.get(URL).json()["count"] == 0
        for method, path in [
            ("get", body["links"]["self"]),
            ("get", f"{body['links']['self']}/result?format=csv"),
            ("post", f"{body['links']['self']}/cancel"),
            ("delete", body["links"]["self"]),
        ]:
            response = getattr(client, method)(path)
            assert response.status_code == 404, (method, path)
            assert response.json()["error"]["code"] == "not_found"
    # a nationwide administrator sees every job
    assert admin_api.get(body["links"]["self"]).status_code == 200
    assert Job.objects.get(pk=body["id"]).status == JobStatus.SUCCEEDED


def test_api_keys_see_their_own_jobs_only(db, api_a):
    key_1, key_2 = _key_client("系统一"), _key_client("系统二")
    body = _submit(key_1, csv_upload([HEADER, *GOOD]))
    job = Job.objects.get(pk=body["id"])
    assert job.api_key is not None and job.owner is None and job.scope_code == JIANGYANG
    assert key_1.get(body["links"]["self"]).status_code == 200
    assert key_2.get(body["links"]["self"]).status_code == 404
    assert api_a.get(body["links"]["self"]).status_code == 404


def test_the_job_geocodes_within_the_submitters_district(api_b):
    body = _submit(api_b, csv_upload([HEADER, *GOOD]))
    _run(body)
    assert {r[3] for r in _csv_result(api_b, body)[1:]} == {"outside"}


def test_scope_and_login_are_required(db, anon_api):
    auditor = user_create(username="jobs-audit", password=PASSWORD, roles=["auditor"], region_code=JIANGYANG)
    response = _client(auditor).get(URL)
    assert response.status_code == 403 and response.json()["error"]["code"] == "missing_scope"
    assert anon_api.get(URL).status_code in (401, 403)
