from django.core.management.base import BaseCommand

from accounts.models import ApiKey


class Command(BaseCommand):
    help = "列出 API 密钥（不含密钥本身）。"

    def handle(self, *args, **options):
        for key in ApiKey.objects.select_related("region"):
            where = (
                "全国"
                if key.nationwide
                else key.region.name
                if key.region
                else f"{len(key.grid_codes)} 个网格"
            )
            state = "有效" if key.is_active else ("已吊销" if key.revoked_at else "已过期")
            self.stdout.write(f"{key.prefix}  {key.name}  {','.join(key.scopes)}  {where}  {state}")
