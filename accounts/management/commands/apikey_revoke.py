from django.core.management.base import BaseCommand, CommandError

from accounts.services import apikey_revoke
from gis_core.errors import ApplicationError


class Command(BaseCommand):
    help = "吊销 API 密钥（按前缀），立即生效。"

    def add_arguments(self, parser):
        parser.add_argument("prefix")

    def handle(self, *args, prefix: str, **options):
        try:
            key = apikey_revoke(prefix=prefix)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(self.style.SUCCESS(f"已吊销 {key}（{key.revoked_at:%Y-%m-%d %H:%M:%S}）"))
