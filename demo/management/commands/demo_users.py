from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

DEMO_USERNAME = "admin"
DEMO_PASSWORD = "civgrid-demo-2024"


class Command(BaseCommand):
    help = "创建演示管理员账号（已存在则不改动）。仅用于演示环境。"

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(username=DEMO_USERNAME).exists():
            return
        User.objects.create_superuser(DEMO_USERNAME, "admin@example.invalid", DEMO_PASSWORD)
        self.stdout.write(f"已创建演示管理员 {DEMO_USERNAME} / {DEMO_PASSWORD}")
