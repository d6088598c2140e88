"""The change log that invalidates cached vector tiles (see :mod:`tiles.cache`)."""

from __future__ import annotations

from django.contrib.gis.db import models
from django.db.models.functions import Now

__all__ = ["TileChange"]


class TileChange(models.Model):
    """The box of rows one statement wrote in a table some tile layer reads.

    Written only by the statement triggers of :mod:`tiles.triggers`; ``bbox``
    NULL means "anywhere" (TRUNCATE, or a table without geometry).
    """

    table_name = models.CharField(max_length=63)
    bbox = models.GeometryField(srid=4326, null=True)
    at = models.DateTimeField(db_default=Now(), db_index=True)

    class Meta:
        verbose_name = "图层变更"
        verbose_name_plural = "图层变更"
        indexes = [
            models.Index(fields=["table_name"], name="tilechange_table"),
            # the "anywhere" rows every stamp reads: a GiST scan for IS NULL would walk the whole index
            models.Index(
                fields=["table_name"], name="tilechange_anywhere", condition=models.Q(bbox__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.table_name}#{self.pk}"
