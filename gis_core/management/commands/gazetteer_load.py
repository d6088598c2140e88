from django.core.management.base import BaseCommand

from gis_core.services.regions import gazetteer_load


class Command(BaseCommand):
    help = "载入全国省、市、区县、乡镇街道区划代码与名称（data/divisions，可重复执行）。"

    def handle(self, *args, **options):
        counts = gazetteer_load()
        self.stdout.write(self.style.SUCCESS("已载入：" + "，".join(f"{k} {v}" for k, v in counts.items())))
