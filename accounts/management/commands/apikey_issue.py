import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.permissions import SCOPES
from accounts.services import apikey_issue
from gis_core.errors import ApplicationError


class Command(BaseCommand):
    help = "签发 API 密钥（密钥只显示这一次，库中只存其散列）。"

    def add_arguments(self, parser):
        parser.add_argument("name", help="密钥名称（调用方系统）")
        parser.add_argument("--scopes", required=True, help=f"逗号分隔的权限范围，可选：{', '.join(SCOPES)}")
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--region", help="管辖区划代码（任一级）")
        where.add_argument("--grids", help="逗号分隔的网格编码")
        where.add_argument("--nationwide", action="store_true", help="全国范围")
        parser.add_argument("--expires-days", type=int, help="有效天数（默认不过期）")
        parser.add_argument("--rate-limit", type=int, help="每分钟请求上限（默认取系统设置）")

    def handle(self, *args, **o):
        expires = timezone.now() + dt.timedelta(days=o["expires_days"]) if o["expires_days"] else None
        try:
            issued = apikey_issue(
                name=o["name"],
                scopes=[s.strip() for s in o["scopes"].split(",") if s.strip()],
                region_code=o["region"],
                grid_codes=[g.strip() for g in (o["grids"] or "").split(",") if g.strip()],
                nationwide=o["nationwide"],
                expires_at=expires,
                rate_limit_per_minute=o["rate_limit"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"前缀：{issued.key.prefix}")
        self.stdout.write(f"密钥：{issued.token}")
        self.stdout.write(
            self.style.WARNING("请立即保存：密钥不会再次显示。用法：Authorization: Bearer <密钥>")
        )
