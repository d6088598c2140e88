"""Patrol track endpoints (thin): position ingest (batches and files), playback, statistics."""

from __future__ import annotations

import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

import numpy as np
import orjson
from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from accounts.permissions import principal_of
from accounts.scoping import scope_queryset
from gis_core import crs as crs_mod
from gis_core.api.params import parse_code, parse_crs, parse_float
from gis_core.errors import InvalidInput
from gis_core.selectors.stats import rows_to_csv, rows_to_xlsx

from .models import UnitGrid
from .selectors.staff import staff_filter, staff_get, staff_visible
from .selectors.tracks import PERIODS, Playback, grid_stats, position_at, staff_stats, track_playback
from .services.tracks import own_staff_id, positions_ingest, track_upload

__all__ = ["PositionsView", "TrackPlaybackView", "TrackStatsView", "TrackUploadView"]

MAX_WINDOW = dt.timedelta(days=31)
EXPORTS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# an integer of 19 digits or more: orjson would read one beyond 64 bits as a float
_LONG_INTEGER = re.compile(rb"(?<![.\d])\d{19,}(?![.\deE])")


class BatchJSONParser(JSONParser):
    """JSON read by orjson (several times faster than the standard library on a 5,000-fix
    batch). A body orjson refuses (a lone surrogate, a number beyond a double, another
    charset) or could read otherwise (an integer beyond 64 bits) goes to DRF's own parser,
    so every body gets the answer it got before."""

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read() if stream is not None else b""
        charset = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        if charset.lower().replace("-", "") in ("utf8", "ascii") and not _LONG_INTEGER.search(body):
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError:
                pass
        return super().parse(io.BytesIO(body), media_type, parser_context)


class PositionsView(APIView):
    """上报巡查位置（批量，最多 5,000 个）。网格员本人的账号可省略 staff；系统密钥可为管辖范围内任何人上报。
    同一人同一时间的位置只存一次；无效的位置逐个返回原因。"""

    required_scopes = {"POST": "tracks:write"}
    parser_classes = [
        BatchJSONParser,
        *(p for p in api_settings.DEFAULT_PARSER_CLASSES if p is not JSONParser),
    ]

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        data = request.data
        if isinstance(data, list):
            data = {"positions": data}
        if not isinstance(data, dict):
            raise InvalidInput('请求体应为 {"crs": "gcj02", "positions": [...]}')
        principal = principal_of(request)
        result = positions_ingest(
            principal=principal, items=data.get("positions"), crs=parse_crs(data.get("crs")),
            default_staff=own_staff_id(principal),
        )  # fmt: skip
        return Response(result.as_dict())


class TrackUploadView(APIView):
    """上传轨迹文件（CSV：时间、经度、纬度[、精度、人员]；或 GPX）。全部写入或全部不写。"""

    required_scopes = {"POST": "tracks:write"}

    @extend_schema(
        request={"multipart/form-data": OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter("staff", int, description="人员编号（文件中没有人员列时）"),
            OpenApiParameter("crs", str, enum=list(crs_mod.SUPPORTED_CRS)),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def post(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput("缺少上传文件 file", details={"file": "required"})
        if upload.size > settings.CIVGRID["IMPORT_MAX_BYTES"]:
            raise InvalidInput("文件过大", code="too_large")
        principal = principal_of(request)
        staff = request.data.get("staff") or request.query_params.get("staff")
        if staff is not None and not str(staff).isdigit():
            raise InvalidInput("staff 应为人员编号", details={"staff": staff})
        result = track_upload(
            principal=principal, name=upload.name, data=upload.read(),
            staff_id=int(staff) if staff else own_staff_id(principal),
            crs=parse_crs(request.data.get("crs") or request.query_params.get("crs")),
        )  # fmt: skip
        return Response(result.as_dict())


def _moment(value: str | None, name: str, default: dt.datetime) -> dt.datetime:
    if not value:
        return default
    try:
        if len(value) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), ZoneInfo(settings.TIME_ZONE))
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name} 应为日期或 ISO 8601 时间", details={name: value}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(settings.TIME_ZONE))


def _path(playback: Playback, crs: str, first: int, last: int) -> list[list[float]]:
    """[lon, lat, elapsed seconds] of the drawn vertices between two fixes (inclusive)."""
    kept = playback.kept[(playback.kept >= first) & (playback.kept <= last)]
    lon, lat = crs_mod.from_wgs84(playback.lon[kept], playback.lat[kept], crs)
    elapsed = playback.t[kept] - (playback.t0 or 0.0)
    return np.round(np.column_stack([lon, lat, elapsed]), 7).tolist()


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, ZoneInfo(settings.TIME_ZONE)).isoformat()


def playback_json(staff, playback: Playback, crs: str, zoom, at: float | None) -> dict:
    n = playback.points
    patrols = [
        {
            "start": _iso(trip.start), "end": _iso(trip.end), "duration_s": round(trip.duration_s),
            "mileage_m": round(trip.distance_m, 1), "avg_speed_kmh": round(trip.avg_speed_mps * 3.6, 2),
            "path": _path(playback, crs, trip.first, trip.last),
        }
        for trip in playback.trips
    ]  # fmt: skip
    stops = []
    for stop in playback.stops:
        lon, lat = crs_mod.from_wgs84(stop.lon, stop.lat, crs)
        stops.append({
            "start": _iso(stop.start), "end": _iso(stop.end), "duration_s": round(stop.duration_s),
            "lon": round(float(lon), 7), "lat": round(float(lat), 7),
        })  # fmt: skip
    body = {
        "staff": {"id": staff.pk, "name": staff.name, "role": staff.role},
        "crs": crs, "zoom": zoom, "tolerance_m": round(playback.tolerance_m, 3),
        "start": _iso(playback.t0) if n else None, "end": _iso(float(playback.t[-1])) if n else None,
        "points": n, "vertices": len(playback.kept),
        "mileage_m": round(playback.mileage_m, 1),
        "patrol_mileage_m": round(sum(t.distance_m for t in playback.trips), 1),
        "patrol_duration_s": round(sum(t.duration_s for t in playback.trips)),
        "path": _path(playback, crs, 0, n - 1) if n else [],
        "patrols": patrols, "stops": stops,
    }  # fmt: skip
    if at is not None:
        where = position_at(playback, at)
        if where is not None:
            lon, lat = crs_mod.from_wgs84(where[0], where[1], crs)
            where = {"lon": round(float(lon), 7), "lat": round(float(lat), 7)}
        body["at"] = {"elapsed_s": at, "position": where}
    return body


class TrackPlaybackView(APIView):
    """轨迹回放：时间窗口内的轨迹（按 zoom 抽稀，每个顶点带相对起点的秒数，按时间回放），
    各次巡查的时长、里程、平均速度，以及停留点。"""

    required_scopes = {"GET": "tracks:read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="开始（日期或 ISO 8601 时间；默认今天 0 点）"),
            OpenApiParameter("to", str, description="结束（不含；默认开始后一天）"),
            OpenApiParameter(
                "zoom", float, description="地图缩放级别（按 1 像素容差抽稀；不给则返回全部点）"
            ),
            OpenApiParameter("at", float, description="回放到起点后第几秒：返回该时刻的位置"),
            OpenApiParameter("crs", str, enum=list(crs_mod.SUPPORTED_CRS)),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, pk: int):
        params = request.query_params
        staff = staff_get(staff_id=pk, jurisdiction=request.jurisdiction)
        today = timezone.localdate()
        start = _moment(
            params.get("from"), "from", dt.datetime.combine(today, dt.time(), ZoneInfo(settings.TIME_ZONE))
        )
        end = _moment(params.get("to"), "to", start + dt.timedelta(days=1))
        if end <= start or end - start > MAX_WINDOW:
            raise InvalidInput("时间窗口应为正且不超过 31 天", details={"from": str(start), "to": str(end)})
        zoom = parse_float(params["zoom"], "zoom") if params.get("zoom") else None
        if zoom is not None and not 0 <= zoom <= 24:
            raise InvalidInput("zoom 应在 0–24", details={"zoom": zoom})
        at = parse_float(params["at"], "at") if params.get("at") else None
        playback = track_playback(staff=staff, start=start, end=end, zoom=zoom)
        return Response(playback_json(staff, playback, parse_crs(params.get("crs")), zoom, at))


STAFF_COLUMNS = [
    ("staff", "人员编号"), ("name", "姓名"), ("role_name", "角色"), ("region_code", "所属区划"),
    ("grids", "负责网格"), ("online", "当前在线"), ("online_days", "在线天数"), ("days", "统计天数"),
    ("online_rate", "在线率"), ("positions", "定位点数"), ("mileage_m", "巡查里程（米）"),
    ("mileage_target_m", "里程目标（米）"), ("mileage_met", "里程达标"), ("duration_s", "巡查时长（秒）"),
    ("duration_target_s", "时长目标（秒）"), ("duration_met", "时长达标"),
]  # fmt: skip
GRID_COLUMNS = [
    ("code", "网格编码"), ("name", "网格名称"), ("community_code", "社区代码"), ("staff", "网格员人数"),
    ("online_now", "当前在线"), ("online_rate", "在线率"), ("patrolled", "已巡查"), ("positions", "定位点数"),
    ("mileage_m", "网格内里程（米）"), ("mileage_target_m", "里程目标（米）"), ("mileage_met", "里程达标"),
    ("duration_s", "网格内时长（秒）"), ("duration_target_s", "时长目标（秒）"), ("duration_met", "时长达标"),
    ("coverage", "覆盖率"),
]  # fmt: skip


class TrackStatsView(APIView):
    """网格巡查统计：按网格或按人员，日/周/月；在线、在线率、是否巡查、里程与时长是否达标、网格覆盖率。"""

    required_scopes = {"GET": "tracks:read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("by", str, enum=["grid", "staff"], description="按网格（默认）或按人员"),
            OpenApiParameter("period", str, enum=list(PERIODS), description="日（默认）/周/月"),
            OpenApiParameter("date", str, description="统计期内的任一天（默认今天）"),
            OpenApiParameter("region", str, description="区划代码（任一级）"),
            OpenApiParameter("grid", str, description="网格编码"),
            OpenApiParameter("coverage", bool, description="是否计算覆盖率（默认是）"),
            OpenApiParameter("export", str, enum=list(EXPORTS)),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        params = request.query_params
        by = params.get("by") or "grid"
        if by not in ("grid", "staff"):
            raise InvalidInput("by 应为 grid 或 staff", details={"by": by})
        period = params.get("period") or "day"
        try:
            day = dt.date.fromisoformat(params["date"]) if params.get("date") else timezone.localdate()
        except ValueError:
            raise InvalidInput("date 应为 YYYY-MM-DD", details={"date": params.get("date")}) from None
        fmt = params.get("export") or None
        if fmt is not None and fmt not in EXPORTS:
            raise InvalidInput("export 应为 csv 或 xlsx", details={"export": fmt})
        region = parse_code(params["region"]) if params.get("region") else None
        now = timezone.now()
        if by == "staff":
            qs = staff_filter(staff_visible(request.jurisdiction), region=region, grid=params.get("grid"))
            rows, columns = staff_stats(staff=qs, period=period, day=day, now=now), STAFF_COLUMNS
        else:
            qs = scope_queryset(UnitGrid.objects.all(), request.jurisdiction)
            if region:
                qs = qs.in_region(region)
            if params.get("grid"):
                qs = qs.filter(code=params["grid"])
            coverage = params.get("coverage", "true").lower() not in ("false", "0", "no")
            rows = grid_stats(grids=qs, period=period, day=day, now=now, coverage=coverage)
            columns = GRID_COLUMNS
        if fmt is None:
            return Response(
                {"by": by, "period": period, "date": day.isoformat(), "count": len(rows), "results": rows}
            )
        title = f"巡查统计_{by}_{period}_{day.isoformat()}"
        content = rows_to_csv(rows, columns) if fmt == "csv" else rows_to_xlsx(rows, columns, title=title)
        response = HttpResponse(content, content_type=EXPORTS[fmt])
        response["Content-Disposition"] = (
            f'attachment; filename="track-stats-{by}-{period}-{day.isoformat()}.{fmt}"'
        )
        return response
