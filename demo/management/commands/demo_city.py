from django.core.management.base import BaseCommand

from demo.citygen import SCALES
from demo.services import demo_city_build


class Command(BaseCommand):
    help = "生成演示城市（泸州市）：区划边界、社区、单元网格、道路。已存在时不重复生成（--force 重建）。"

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--scale", choices=sorted(SCALES), default="small")
        parser.add_argument("--force", action="store_true", help="删除已有演示数据后重建")

    def handle(self, *args, seed: int, scale: str, force: bool, **options):
        plan = demo_city_build(seed=seed, scale=scale, force=force)
        if plan is None:
            self.stdout.write("演示城市已存在，未做改动（使用 --force 重建）。")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"演示城市已生成：{len(plan.regions) + 1} 个区划，{len(plan.grids)} 个单元网格，"
                f"{len(plan.roads)} 条道路（seed={seed}, scale={scale}）。"
            )
        )
