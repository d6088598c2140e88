"""``manage.py grids_check``: topology check of unit grids; exits 1 on any issue (for data pipelines)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gis_core.codes import InvalidCode, pad_code
from gis_core.models import Region

from ...selectors.topology import topology_check


class Command(BaseCommand):
    help = (
        "检查单元网格拓扑（无效几何、重叠、空隙、超出社区、碎片），逐社区列出问题；"
        "有任何问题时以状态 1 退出，可用于数据流水线的检查。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--region", help="只检查该区划（任一级代码）内的社区；默认检查全部社区")
        parser.add_argument("--json", action="store_true", help="以 JSON 输出结果")

    def handle(self, *args, **options):
        code = None
        if options["region"]:
            try:
                code = pad_code(options["region"])
            except InvalidCode as exc:
                raise CommandError(str(exc)) from None
            if not Region.objects.filter(code=code).exists():
                raise CommandError(f"区划 {code} 不存在")
        reports = topology_check(region_code=code)
        issues = sum(len(r.issues) for r in reports)
        if options["json"]:
            body = {
                "region": code,
                "communities": len(reports),
                "issues": issues,
                "results": [
                    {"community": r.community, "grids": r.grids, "ok": r.ok, "issues": r.issues}
                    for r in reports
                ],
            }
            self.stdout.write(json.dumps(body, ensure_ascii=False, indent=2))
        else:
            self._print(reports, options["verbosity"])
        if issues:
            raise CommandError(f"{sum(not r.ok for r in reports)} 个社区共 {issues} 处拓扑问题")

    def _print(self, reports, verbosity: int) -> None:
        for r in reports:
            head = f"{r.community['name']}（{r.community['code']}）：{r.grids} 个网格"
            if r.ok:
                if verbosity > 1:
                    self.stdout.write(f"{head}，无问题")
                continue
            self.stdout.write(self.style.WARNING(f"{head}，{len(r.issues)} 处问题"))
            for issue in r.issues:
                lon, lat = issue["location"]["coordinates"] if issue["location"] else (None, None)
                where = f" @ {lon:.6f},{lat:.6f}" if lon is not None else ""
                self.stdout.write(f"  - [{issue['type']}] {issue['message']}{where}")
        total = sum(r.grids for r in reports)
        bad = sum(not r.ok for r in reports)
        summary = f"检查 {len(reports)} 个社区、{total} 个网格：{bad} 个社区有问题"
        self.stdout.write(self.style.ERROR(summary) if bad else self.style.SUCCESS(summary))
