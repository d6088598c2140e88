from pathlib import Path

from django.core.management.base import BaseCommand

from events.services.categories import DEFAULT_CATEGORIES, categories_load


class Command(BaseCommand):
    help = "载入事件、部件两级分类及各环节时限（按编码新增或更新，可重复执行）。"

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=DEFAULT_CATEGORIES, help="分类 JSON 文件")

    def handle(self, *args, file: Path, **options):
        counts = categories_load(path=file)
        self.stdout.write(
            self.style.SUCCESS(f"分类已载入：新增 {counts['created']}，更新 {counts['updated']}。")
        )
