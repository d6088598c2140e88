import getpass
import sys

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Role
from accounts.services import user_create
from gis_core.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "创建第一个管理员（超级用户，全国范围）。密码从 --password-stdin 读取或交互输入，须满足密码强度规则。"
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password-stdin", action="store_true", help="从标准输入读取密码")
        parser.add_argument("--name", default="", help="姓名")

    def handle(self, *args, username: str, password_stdin: bool, name: str, **options):
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("密码：")
            if getpass.getpass("再次输入：") != password:
                raise CommandError("两次输入的密码不一致")
        try:
            user_create(
                username=username, password=password, roles=[Role.ADMIN], nationwide=True, superuser=True,
                full_name=name,
            )  # fmt: skip
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(self.style.SUCCESS(f"已创建管理员 {username}（全国范围，全部权限）"))
