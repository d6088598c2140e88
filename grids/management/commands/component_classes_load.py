"""``manage.py component_classes_load``: load the city component classification (城市部件分类)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gis_core.errors import InvalidInput

from ...services.components import CLASSES_FILE, component_classes_load


class Command(BaseCommand):
    help = (
        "载入城市部件分类（大类/小类，GB/T 30428.2 名称）：新增或更新，文件中没有的分类保留。"
        f"默认文件 {CLASSES_FILE.relative_to(CLASSES_FILE.parents[2])}。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", help="CSV 文件：code,name,geometry_kind,note（# 开头为注释行）")

    def handle(self, *args, **options):
        try:
            counts = component_classes_load(path=options["file"])
        except InvalidInput as exc:
            errors = exc.details.get("errors", []) if isinstance(exc.details, dict) else []
            raise CommandError("\n".join([exc.message, *errors])) from None
        self.stdout.write(f"部件分类：新增 {counts['created']}，更新 {counts['updated']}")
