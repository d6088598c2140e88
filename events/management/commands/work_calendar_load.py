from pathlib import Path

from django.core.management.base import BaseCommand

from events.services.calendar import DEFAULT_CALENDAR, calendar_load


class Command(BaseCommand):
    help = "载入工作日历：法定节假日与调休上班日（按日期新增或更新，可重复执行）。"

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=DEFAULT_CALENDAR, help="工作日历 JSON 文件")

    def handle(self, *args, file: Path, **options):
        counts = calendar_load(path=file)
        self.stdout.write(
            self.style.SUCCESS(f"工作日历已载入：新增 {counts['created']}，更新 {counts['updated']}。")
        )
