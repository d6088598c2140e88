"""``manage.py grids_check``: topology check of unit grids; exits 1 on any issue (for data pipelines)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gis_core.codes import InvalidCode, pad_code
from gis_core.errors import InvalidInput

from ...selectors.topology import topology_summary


class Command(BaseCommand):
    help = (
        "检查单元网格拓扑（无效几何、重叠、空隙、超出社区、碎片），逐社区列出问题；"
        "有任何问题时以状态 1 退出，可用于数据流水线的检查。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--region", help="只检查该区划（任一级代码）内的社区；默认检查全部社区")
        parser.add_argument("--json", action="store_true", help="以 JSON 输出结果")

    def handle(self, *args, **options):
        try:
            code = pad_code(options["region"]) if options["region"] else None
            summary = topology_summary(region_code=code)
        except (InvalidCode, InvalidInput) as exc:
            raise CommandError(getattr(exc, "message", str(exc))) from None
        if options["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2))
        else:
            self._print(summary, options["verbosity"])
        if summary["issues"]:
            raise CommandError(
                f"{summary['communities_with_issues']} 个社区共 {summary['issues']} 处拓扑问题"
            )

    def _print(self, summary: dict, verbosity: int) -> None:
        for r in summary["results"]:
            head = f"{r['community']['name']}（{r['community']['code']}）：{r['grids']} 个网格"
            if r["ok"]:
                if verbosity > 1:
                    self.stdout.write(f"{head}，无问题")
                continue
            self.stdout.write(self.style.WARNING(f"{head}，{len(r['issues'])} 处问题"))
            for issue in r["issues"]:
                lon, lat = issue["location"]["coordinates"] if issue["location"] else (None, None)
                where = f" @ {lon:.6f},{lat:.6f}" if lon is not None else ""
                self.stdout.write(f"  - [{issue['type']}] {issue['message']}{where}")
        total = sum(r["grids"] for r in summary["results"])
        bad = summary["communities_with_issues"]
        line = f"检查 {summary['communities']} 个社区、{total} 个网格：{bad} 个社区有问题"
        self.stdout.write(self.style.ERROR(line) if bad else self.style.SUCCESS(line))
