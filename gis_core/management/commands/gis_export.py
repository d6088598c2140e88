"""``manage.py gis_export``: write a layer to a GeoJSON, GeoPackage or CSV file."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gis_core.errors import InvalidInput
from gis_core.imports.registry import layer_names
from gis_core.imports.service import EXPORT_FORMATS, export_layer

_SUFFIXES = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".csv": "csv"}


class Command(BaseCommand):
    help = "导出图层为 GeoJSON、GeoPackage 或 CSV（WKT 列，UTF-8 带 BOM）文件。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("layer", choices=layer_names(), help="图层")
        parser.add_argument("out_file", help="输出文件路径")
        parser.add_argument(
            "--format",
            choices=list(EXPORT_FORMATS),
            help="文件格式（默认按扩展名：.geojson/.json、.gpkg、.csv）",
        )
        parser.add_argument("--region", help="只导出该区划（任一级代码）内的要素")
        parser.add_argument(
            "--crs",
            default="wgs84",
            help="文件的坐标系：wgs84（默认）、cgcs2000、gcj02、bd09（后两者无 EPSG 代码，文件不声明坐标系）",
        )

    def handle(self, *args, **options):
        out = Path(options["out_file"])
        fmt = options["format"] or _SUFFIXES.get(out.suffix.lower())
        if fmt is None:
            raise CommandError(
                f"无法从扩展名“{out.suffix}”判断格式，请用 --format 指定（{'、'.join(EXPORT_FORMATS)}）"
            )
        try:
            result = export_layer(
                layer=options["layer"], fmt=fmt, region=options["region"], crs=options["crs"]
            )
        except InvalidInput as exc:
            raise CommandError(exc.message) from None
        out.write_bytes(result.content)
        self.stdout.write(self.style.SUCCESS(f"已导出到 {out}（{fmt}，{len(result.content)} 字节）"))
