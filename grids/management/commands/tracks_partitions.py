import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from grids.services.partitions import (
    positions_partitions,
    positions_partitions_detach,
    positions_partitions_maintain,
)


class Command(BaseCommand):
    help = (
        "巡查位置表的月分区：创建从最早可接收的月份到未来几个月的分区（同 beat 任务）；"
        "--detach-before YYYY-MM 分离更早的分区（--drop 同时删除）。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--detach-before", help="分离该月之前的分区，如 2024-01")
        parser.add_argument("--drop", action="store_true", help="分离后删除表（不可恢复）")

    def handle(self, *args, detach_before: str | None, drop: bool, **options):
        if detach_before:
            try:
                before = dt.date.fromisoformat(f"{detach_before}-01")
            except ValueError:
                raise CommandError("--detach-before 应为 YYYY-MM") from None
            months = positions_partitions_detach(before=before, drop=drop)
            self.stdout.write(
                f"{'删除' if drop else '分离'}了 {len(months)} 个分区：{', '.join(map(str, months))}"
            )
            return
        result = positions_partitions_maintain(now=timezone.now())
        self.stdout.write(f"新建分区：{', '.join(result['created']) or '无'}")
        self.stdout.write(f"现有分区：{', '.join(m.strftime('%Y-%m') for m in positions_partitions())}")
