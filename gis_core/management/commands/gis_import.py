"""``manage.py gis_import``: import a file into a layer (dry run unless --commit)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gis_core.errors import InvalidInput
from gis_core.imports.registry import layer_names
from gis_core.imports.service import ImportReport, import_file


def _column(value: str) -> tuple[str, str]:
    canonical, sep, source = value.partition("=")
    if not sep or not canonical.strip() or not source.strip():
        raise CommandError(f"--column 应为 字段=源列名（如 code=WGBM），实际为“{value}”")
    return canonical.strip(), source.strip()


class Command(BaseCommand):
    help = (
        "导入 GeoJSON、Shapefile（zip）、GeoPackage 或 CSV 文件到图层。默认试运行，只检查不写入；"
        "加 --commit 写入。任何一行有错则全部不写入，并以非零状态退出。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("layer", choices=layer_names(), help="图层")
        parser.add_argument("file", help="文件路径（.geojson/.json、.zip、.shp、.gpkg、.csv）")
        parser.add_argument("--commit", action="store_true", help="写入数据库（默认试运行）")
        parser.add_argument(
            "--crs", help="源坐标系：wgs84、cgcs2000、gcj02、bd09 或 EPSG:xxxx（默认取文件自带的坐标系）"
        )
        parser.add_argument(
            "--encoding", help="Shapefile 属性或 CSV 的编码（如 GBK、Big5；默认按 .cpg 或识别 UTF-8/GBK）"
        )
        parser.add_argument("--repair", action="store_true", help="自动修复无效几何（如自相交）")
        parser.add_argument(
            "--column",
            action="append",
            default=[],
            metavar="字段=源列名",
            help="指定列对应关系，可重复，如 --column code=WGBM --column name=MC",
        )

    def handle(self, *args, **options):
        columns = dict(_column(c) for c in options["column"])
        try:
            report = import_file(
                layer=options["layer"],
                path=options["file"],
                commit=options["commit"],
                crs=options["crs"],
                encoding=options["encoding"],
                columns=columns or None,
                repair=options["repair"],
            )
        except InvalidInput as exc:
            raise CommandError(exc.message) from None
        self._summary(report)
        if report.errors:
            raise CommandError(f"{len(report.errors)} 处错误，未写入任何数据")

    def _summary(self, report: ImportReport) -> None:
        out = self.stdout
        out.write(f"文件：{report.file}（{report.format}），源坐标系：{report.source_crs}")
        out.write(f"要素：{report.rows} 行，有效 {report.valid} 行")
        for error in report.errors:
            where = f"第 {error['row']} 行" if error["row"] else "文件"
            field = f" [{error['field']}]" if error["field"] else ""
            out.write(self.style.ERROR(f"{where}{field}: {error['message']}"))
        if report.committed:
            out.write(self.style.SUCCESS(f"已写入：新建 {report.created}，更新 {report.updated}"))
        elif not report.errors:
            out.write(self.style.WARNING("试运行（dry run），未写入；加 --commit 写入"))
