from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from civilization.services.population import populations_read, populations_upsert
from gis_core.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "导入区划常住人口（CSV/Excel：区划代码、年份、人口），用于每万人单位数。默认试运行，--commit 写入。"
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--year", type=int, help="表格没有年份列时的年份")
        parser.add_argument("--source", default="", help="数据来源（如 第七次全国人口普查）")
        parser.add_argument("--commit", action="store_true", help="写入（否则只检查）")

    def handle(self, *args, path: Path, year: int | None, source: str, commit: bool, **options):
        try:
            items = populations_read(path, year=year, source=source)
            with transaction.atomic():  # a dry run checks exactly what a commit would, then rolls back
                created, updated = populations_upsert(items=items)
                transaction.set_rollback(not commit)
        except ApplicationError as exc:
            raise CommandError(f"{exc.message} {exc.details or ''}") from None
        if not commit:
            self.stdout.write(
                f"试运行：{len(items)} 行均有效（将新增 {created}，更新 {updated}）；加 --commit 写入。"
            )
            return
        self.stdout.write(self.style.SUCCESS(f"已写入：新增 {created}，更新 {updated}。"))
