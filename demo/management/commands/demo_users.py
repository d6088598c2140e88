from django.core.management.base import BaseCommand

from accounts.models import Role
from demo.services import demo_users_create


class Command(BaseCommand):
    help = "创建演示账号（两个区各一套角色 + 全国管理员，已存在则不改动）并列出。仅用于演示环境。"

    def handle(self, *args, **options):
        labels = dict(Role.choices)
        self.stdout.write("演示账号（仅供演示，请勿用于生产）：")
        for username, password, role, where in demo_users_create():
            self.stdout.write(f"  {username:<22} {password:<18} {labels[role]:<6} {where}")
