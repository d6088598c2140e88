"""Queue (and optionally follow) the seeding of the base-map cache for a region.

manage.py tiles_seed --region 510502 --zooms 10-16 [--layer basemap] [--user admin] [--wait]
"""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.permissions import principal_for_user
from gis_core.errors import ApplicationError
from jobs.selectors import JobCaller


class Command(BaseCommand):
    help = "预生成底图切片（Celery 任务，可续跑）"

    def add_arguments(self, parser):
        parser.add_argument("--region", required=True, help="区划代码：预生成其边界范围")
        parser.add_argument("--zooms", required=True, help="级别范围，如 10-16")
        parser.add_argument("--layer", default="basemap", help="底图图层（默认 basemap）")
        parser.add_argument("--user", help="任务提交人（默认第一个超级用户）")
        parser.add_argument("--wait", action="store_true", help="等待完成并显示进度")

    def handle(self, *args, **options):
        from jobs.models import Job
        from tiles.basemap.seed import seed_start

        users = get_user_model().objects.filter(is_active=True)
        user = (
            users.filter(username=options["user"]).first()
            if options["user"]
            else users.filter(is_superuser=True).order_by("pk").first()
        )
        if user is None:
            raise CommandError("没有可用的提交用户：请用 --user 指定，或先创建管理员")
        principal = principal_for_user(user)
        caller = JobCaller(jurisdiction=principal.jurisdiction, user_id=user.pk, is_admin=user.is_superuser)
        try:
            job = seed_start(
                caller=caller, region=options["region"], zooms=options["zooms"], layer=options["layer"]
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"任务 {job.pk}：{job.total_rows} 行切片条带已排队")
        while options["wait"]:
            job = Job.objects.get(pk=job.pk)
            self.stdout.write(f"  {job.get_status_display()} {job.done_rows}/{job.total_rows}")
            if not job.is_active:
                break
            time.sleep(2)
