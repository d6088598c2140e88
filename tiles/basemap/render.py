"""Draw the offline base map with Pillow: land, region boundaries, roads with their
Chinese names, landmarks. Pure Python (no Django): it draws what
:func:`tiles.basemap.data.basemap_data` read.

Cartography is deliberately plain (a light "street map" style) and
deterministic, so MapProxy's meta tiles (several tiles drawn at once, with a
buffer) keep labels whole across tile edges. Road names are drawn along the
longest straight piece of the road, upright, and only where they fit without
overlapping a name drawn before (roads first by rank: avenues, roads, streets,
lanes).
"""

from __future__ import annotations

import itertools
import math
from functools import cache

from PIL import Image, ImageDraw, ImageFont
from shapely.geometry.base import BaseGeometry

from .data import BaseMapData

__all__ = ["COLOURS", "render_image"]

COLOURS = {
    "background": (236, 238, 240),  # outside any mapped district
    "land": (246, 243, 236),
    "boundary": {3: (150, 120, 180), 4: (180, 160, 200), 5: (205, 195, 215)},
    "road": (255, 255, 255),
    "road_casing": (200, 195, 185),
    "avenue": (252, 214, 143),
    "avenue_casing": (214, 164, 84),
    "text": (60, 60, 70),
    "halo": (255, 255, 255),
    "poi": {"学校": (70, 130, 200), "医院": (210, 70, 70), "公园": (80, 160, 90)},
    "poi_default": (150, 110, 70),
}
_ROAD_RANK = {"avenue": 0, "road": 1, "street": 2, "lane": 3}
_ROAD_WIDTH = {"avenue": 7, "road": 5, "street": 4, "lane": 3}


@cache
def _font(path: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(path, size)
    except OSError:  # no CJK font installed: Pillow's own (labels then lack Chinese glyphs)
        return ImageFont.load_default(size)


class _Canvas:
    def __init__(self, bbox: tuple[float, float, float, float], size: tuple[int, int]) -> None:
        self.x0, self.y0, self.x1, self.y1 = bbox
        self.w, self.h = size
        self.sx = self.w / (self.x1 - self.x0)
        self.sy = self.h / (self.y1 - self.y0)

    def px(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.x0) * self.sx, (self.y1 - y) * self.sy

    def ring(self, coords) -> list[tuple[float, float]]:
        return [self.px(x, y) for x, y, *_ in coords]


def _polygons(geom: BaseGeometry):
    return getattr(geom, "geoms", [geom]) if geom.geom_type in ("MultiPolygon", "Polygon") else []


def _lines(geom: BaseGeometry):
    if geom.geom_type == "LineString":
        return [geom]
    return [g for g in getattr(geom, "geoms", []) if g.geom_type == "LineString"]


def _overlaps(box, placed: list) -> bool:
    return any(not (box[2] < b[0] or box[0] > b[2] or box[3] < b[1] or box[1] > b[3]) for b in placed)


def _text_image(text: str, font, fill, halo) -> Image.Image:
    left, top, right, bottom = font.getbbox(text)
    pad = 3
    img = Image.new("RGBA", (right - left + 2 * pad, bottom - top + 2 * pad), (0, 0, 0, 0))
    ImageDraw.Draw(img).text(
        (pad - left, pad - top), text, font=font, fill=fill, stroke_width=2, stroke_fill=halo
    )
    return img


def _place(image: Image.Image, label: Image.Image, cx: float, cy: float, placed: list) -> bool:
    w, h = label.size
    box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    if _overlaps(box, placed):
        return False
    placed.append(box)
    image.alpha_composite(label, (round(box[0]), round(box[1])))
    return True


def _road_label(image, canvas: _Canvas, line, name: str, font, placed: list) -> None:
    pts = canvas.ring(line.coords)
    best, length = None, 0.0
    for (ax, ay), (bx, by) in itertools.pairwise(pts):
        seg = math.hypot(bx - ax, by - ay)
        if seg > length:
            best, length = ((ax, ay), (bx, by)), seg
    if best is None:
        return
    label = _text_image(name, font, COLOURS["text"], COLOURS["halo"])
    if label.width + 8 > length:
        return
    (ax, ay), (bx, by) = best
    angle = math.degrees(math.atan2(-(by - ay), bx - ax))
    if angle > 90:
        angle -= 180
    elif angle < -90:
        angle += 180
    rotated = label.rotate(angle, expand=True, resample=Image.BICUBIC)
    _place(image, rotated, (ax + bx) / 2, (ay + by) / 2, placed)


def render_image(
    data: BaseMapData,
    bbox: tuple[float, float, float, float],
    size: tuple[int, int],
    zoom: float,
    font_path: str,
) -> Image.Image:
    """The base map of ``bbox`` (EPSG:3857) as an RGBA image of ``size`` pixels."""
    canvas = _Canvas(bbox, size)
    image = Image.new("RGBA", size, COLOURS["background"] + (255,))
    draw = ImageDraw.Draw(image)
    for geom in data.land:
        for poly in _polygons(geom):
            draw.polygon(canvas.ring(poly.exterior.coords), fill=COLOURS["land"])
            for hole in poly.interiors:
                draw.polygon(canvas.ring(hole.coords), fill=COLOURS["background"])
    for level, geom in sorted(data.boundaries, key=lambda b: -b[0]):  # districts drawn last, on top
        width = {3: 3, 4: 2, 5: 1}.get(level, 1)
        for poly in _polygons(geom):
            draw.line(canvas.ring(poly.exterior.coords), fill=COLOURS["boundary"].get(level), width=width)
    roads = sorted(data.roads, key=lambda r: -_ROAD_RANK.get(r[0], 9))  # minor first, avenues on top
    scale = 1.0 if zoom >= 16 else (0.7 if zoom >= 14 else 0.45)
    for casing in (True, False):
        for kind, _name, geom in roads:
            width = max(1, round(_ROAD_WIDTH.get(kind, 3) * scale)) + (2 if casing else 0)
            major = kind == "avenue"
            colour = (
                COLOURS["avenue_casing" if casing else "avenue"]
                if major
                else COLOURS["road_casing" if casing else "road"]
            )
            for line in _lines(geom):
                draw.line(canvas.ring(line.coords), fill=colour, width=width, joint="curve")
    placed: list = []
    road_font = _font(font_path, 13 if zoom >= 16 else 12)
    if zoom >= 13:
        for kind, name, geom in sorted(data.roads, key=lambda r: _ROAD_RANK.get(r[0], 9)):
            if kind in ("lane", "street") and zoom < 15:
                continue
            for line in _lines(geom)[:1]:
                _road_label(image, canvas, line, name, road_font, placed)
    if zoom >= 15:
        poi_font = _font(font_path, 12)
        for category, name, (x, y) in data.pois:
            px, py = canvas.px(x, y)
            colour = COLOURS["poi"].get(category, COLOURS["poi_default"])
            label = _text_image(name, poi_font, colour, COLOURS["halo"])
            if _place(image, label, px + 5 + label.width / 2, py, placed):
                draw.ellipse((px - 4, py - 4, px + 4, py + 4), fill=colour, outline=(255, 255, 255))
    wanted = 3 if zoom < 12 else (4 if zoom < 14 else 5)
    region_font = _font(font_path, 15 if wanted == 3 else 13)
    for level, name, (x, y) in data.labels:
        if level == wanted:
            colour = COLOURS["boundary"][3]
            _place(image, _text_image(name, region_font, colour, COLOURS["halo"]), *canvas.px(x, y), placed)
    return image
