from django.core.management.base import BaseCommand, CommandError

from events.demo_bulk import demo_events_bulk, demo_events_count
from gis_core.errors import InvalidInput


class Command(BaseCommand):
    help = (
        "为演示城市批量生成事件（默认 1,000,000 条，--count 10000000 生成一千万条）：热点与道路聚集、"
        "全部分类/来源/状态、近 12 个月上报，含网格与区划、时限和流转记录。追加写入，不删除已有事件；"
        "--total 表示补足到该总数（已达到则跳过）。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=1_000_000, help="生成条数")
        parser.add_argument("--total", action="store_true", help="把 --count 当作城市事件总数：只补差额")
        parser.add_argument(
            "--seed", type=int, default=1, help="随机种子（--total 时再加上已有条数，补写的不重复）"
        )
        parser.add_argument("--city", default="510500000000", help="城市代码（12 位）")
        parser.add_argument("--batch", type=int, default=500_000, help="每次写入的条数")
        parser.add_argument("--workers", type=int, default=2, help="并行写入的数据库连接数")

    def handle(self, *args, count, total, seed, city, batch, workers, **options):
        if count < 1 or batch < 1 or workers < 1:
            raise CommandError("--count、--batch、--workers 应为正整数")
        if total:
            have = demo_events_count(city)
            if have >= count:
                self.stdout.write(f"已有 {have:,} 条事件，不少于 {count:,}，跳过。")
                return
            count -= have
            seed += have

        def progress(done: int, wanted: int) -> None:
            self.stdout.write(f"  {done:,} / {wanted:,}")

        try:
            result = demo_events_bulk(count, seed=seed, city_code=city, batch=batch, workers=workers,
                                      progress=progress)  # fmt: skip
        except (InvalidInput, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"已写入 {result['events']:,} 条事件、{result['transitions']:,} 条流转记录，"
                f"{result['events_per_s']:,.0f} 条/秒（含网格定位、时限计算与 COPY）。"
            )
        )
