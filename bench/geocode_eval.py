"""The labelled evaluation set for forward geocoding (issue 4, “Quality and speed”).

Pure and deterministic: the same seed gives the same items, in any process
(no set or hash ordering is used; randomness is one ``random.Random(seed)``).
No Django; reads the national division tables in ``data/divisions`` directly,
so every name is real and every label is a code of the ``Region`` table.

Two parts:

* :func:`build_evalset` — addresses across every province, made from a random
  region chain (province → city → district/county → street/town) and rendered
  with the variations users type: levels omitted, short forms without
  省/市/区/县/街道/镇, one-character typos in the district or street/town name,
  full-width digits and letters, Chinese numerals in door numbers, trailing
  noise (door numbers, 附近, 路口东50米, spaces, punctuation), traditional
  characters; plus the hard cases (district and town names shared by several
  cities, given with their city; 市辖区 of the municipalities; towns directly
  under a prefecture city; counties directly under a province).
* :func:`demo_items` — door-plate addresses of the demo city (泸州) with their
  true points, from a :class:`demo.citygen.CityPlan` (``plan.doors``), plus door
  numbers left out of the gazetteer (``plan.door_gaps``: interpolation), POIs and
  buildings of compounds.

Labels (:attr:`EvalItem.expected`): 12-digit codes keyed by level name
(``province``, ``city``, ``district``, ``street``) — the whole chain of the
deepest region the text names, as the ``Region`` table has it
(``gis_core.codes.ancestor_codes``). Consequences worth knowing:

* a municipality's districts carry the 市辖区/县 city (北京市东城区 → city
  ``110100000000``), though the text never says 市辖区;
* towns directly under 东莞/中山/儋州 have no district label (their chain is
  province → city → town); 嘉峪关's streets are under the district-level
  ``620201000000`` (named 嘉峪关市), so “嘉峪关市雄关街道” is labelled with it;
* counties directly under a province (仙桃, 济源, 石河子 …) carry the
  省直辖县级行政区划 city (``429000000000``);
* a typo does not change the label: the intended region is still the answer.

Only texts that name their region unambiguously are kept: an omission or short
form that would make the named chain match several regions (or read as a
region of another level) falls back to the full form.
"""

from __future__ import annotations

import csv
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from gis_core.codes import ancestor_codes, level_of, pad_code, parent_code
from gis_core.names import short_name

__all__ = [
    "DIVISIONS_DIR",
    "LEVEL_NAMES",
    "Divisions",
    "EvalItem",
    "build_evalset",
    "chinese_number",
    "demo_items",
    "fullwidth",
]

DIVISIONS_DIR = Path(__file__).resolve().parent.parent / "data" / "divisions"
LEVEL_NAMES = {1: "province", 2: "city", 3: "district", 4: "street"}
_FILES = ((1, "provinces.csv"), (2, "cities.csv"), (3, "areas.csv"), (4, "streets.csv"))
MUNICIPALITIES = ("11", "12", "31", "50")
# city-level rows that are not names a text would contain
_PLACEHOLDER_CITIES = ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划")
DIRECT_TOWN_CITIES = ("4419", "4420", "4604", "6202")  # 东莞, 中山, 儋州, 嘉峪关
DEFAULT_SEED = 20240415


@dataclass(frozen=True)
class EvalItem:
    """One labelled address."""

    text: str
    expected: dict[str, str]  # level name → 12-digit code
    tags: tuple[str, ...]
    point: tuple[float, float] | None = None  # true lon/lat (WGS84) of a door address
    meta: dict = field(default_factory=dict)  # what the text was made from (for reading failures)

    def as_dict(self) -> dict:
        return {
            "text": self.text,
            "expected": self.expected,
            "tags": list(self.tags),
            "point": list(self.point) if self.point else None,
            "meta": self.meta,
        }


@dataclass(frozen=True)
class Division:
    code: str  # 12 digits
    name: str
    level: int  # 1..4
    parent: str | None
    short: str

    @property
    def forms(self) -> tuple[str, ...]:
        return (self.name,) if self.short == self.name else (self.name, self.short)


class Divisions:
    """The national division tables, loaded the way ``gazetteer_load`` loads them."""

    def __init__(self, directory: Path = DIVISIONS_DIR):
        self.by_code: dict[str, Division] = {}
        self.children: dict[str, list[str]] = defaultdict(list)
        for level, filename in _FILES:
            with (directory / filename).open(encoding="utf-8", newline="") as fh:
                for row in csv.DictReader(fh):
                    code = pad_code(row["code"])
                    # rows that repeat their parent (东莞 441900 in areas.csv, 金门县 in streets.csv)
                    if level_of(code) != level or code in self.by_code:
                        continue
                    parent = parent_code(code)
                    self.by_code[code] = Division(
                        code, row["name"], level, parent, short_name(row["name"], level)
                    )
                    if parent:
                        self.children[parent].append(code)
        # every form (full or short) → codes, per level, and over all levels
        self.by_form: dict[int, dict[str, list[str]]] = {lv: defaultdict(list) for lv in LEVEL_NAMES}
        for d in self.by_code.values():
            for form in d.forms:
                self.by_form[d.level][form].append(d.code)
        self.provinces = [c for c, d in self.by_code.items() if d.level == 1]

    def __getitem__(self, code: str) -> Division:
        return self.by_code[code]

    def chain(self, code: str) -> list[Division]:
        return [self.by_code[c] for c in ancestor_codes(code)]

    def expected(self, code: str) -> dict[str, str]:
        return {LEVEL_NAMES[d.level]: d.code for d in self.chain(code)}

    def kids(self, code: str, level: int | None = None) -> list[str]:
        return [c for c in self.children.get(code, ()) if level is None or self.by_code[c].level == level]

    def matches(self, presented: dict[int, str]) -> list[str]:
        """Codes of the deepest presented level whose chain carries every presented form."""
        deepest = max(presented)
        found = []
        for code in self.by_form[deepest].get(presented[deepest], ()):
            chain = {d.level: d for d in self.chain(code)}
            if all(lv in chain and form in chain[lv].forms for lv, form in presented.items()):
                found.append(code)
        return found

    def resolve_names(self, names: list[str | None]) -> dict[str, str]:
        """Codes per level for a top-down list of names (province, city, county, town …) as a
        name-only parser returns them: each name is looked up below the region found so far
        (children first, then deeper: 北京市 → 东城区 skips 市辖区), by full or short form;
        a name that matches nothing or several regions is skipped."""
        scope: str | None = None
        for name in names:
            if not name or not isinstance(name, str):
                continue
            hits = self._below(scope, name)
            if len(hits) == 1:
                scope = hits[0]
        return self.expected(scope) if scope else {}

    def _below(self, scope: str | None, name: str) -> list[str]:
        if scope is None:
            return [c for c in self.provinces if name in self.by_code[c].forms]
        frontier = self.kids(scope)
        while frontier:
            exact = [c for c in frontier if self.by_code[c].name == name]
            if exact:
                return exact
            short = [c for c in frontier if self.by_code[c].short == name]
            if short:
                return short
            frontier = [k for c in frontier for k in self.kids(c)]
        return []


@lru_cache(maxsize=4)
def load_divisions(directory: Path = DIVISIONS_DIR) -> Divisions:
    return Divisions(directory)


# ---------------------------------------------------------------- text helpers

_CN_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """12 → 十二, 105 → 一百零五, 20 → 二十, 1203 → 一千二百零三 (1 ≤ n < 10000)."""
    if not 0 < n < 10000:
        raise ValueError(n)
    out, zero = [], False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(("" if (digit == 1 and unit == "十" and not out) else _CN_DIGITS[digit]) + unit)
    return "".join(out)


def fullwidth(text: str) -> str:
    """ASCII digits and letters → their full-width forms (１２Ａ)."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


@lru_cache(maxsize=1)
def _s2t():
    from opencc import OpenCC  # opencc-python-reimplemented (requirements.lock)

    return OpenCC("s2t")


def traditional(text: str) -> str:
    return _s2t().convert(text)


# groups of characters commonly typed for one another in place names (same or near sound, or shape)
_CONFUSABLE_GROUPS = (
    "阳杨扬洋羊", "江姜将疆", "州洲舟周", "山杉珊衫", "城成诚程承", "华化桦花", "龙隆珑笼", "宁凝柠",
    "安鞍岸按", "东冬栋", "西溪希夕", "南楠难", "北贝背", "新心欣辛鑫", "河和荷合何", "湖胡糊蝴",
    "海亥害", "平坪评苹萍", "泉全权", "林琳霖临淋", "石时实十", "家佳嘉加", "庄桩装壮", "桥乔侨巧",
    "兴星幸", "云允运", "丰峰锋风枫封", "明名鸣铭", "光广", "永勇泳", "长常场昌", "宝保堡",
    "德得", "福富府付", "清青情晴庆", "金今津锦", "玉育裕", "凤奉", "台抬太泰", "园元源圆原",
    "坝霸", "沟勾", "店殿", "塘唐堂", "港岗钢刚", "岭领", "湾弯", "营盈赢", "集吉及", "浦普朴谱",
    "沙莎砂纱", "义议益艺", "白百柏", "红洪宏鸿", "黄皇煌凰", "马码玛", "关官观冠", "定顶鼎",
    "武五午伍", "汉翰", "文闻纹", "门们", "井景静", "阜富", "桂贵", "梅美媚", "竹祝", "松宋颂",
    "寺四思", "乡相香湘祥", "里理李礼", "埠部步", "堰燕雁延", "川穿传", "都督", "杭航", "苏酥",
    "徐许", "济际", "淮怀", "滨宾彬", "珠朱猪", "禹雨宇", "晋进近", "闽敏", "坊方芳", "峪玉",
    "岩言严", "泽则", "阿啊", "尔二耳", "旗棋奇", "郊交", "沿延", "铁贴", "口扣", "田甜", "水氺",
    "利力立", "仁人", "大达", "中钟忠", "上尚", "下夏", "高糕", "坡泼", "岛导", "陵灵凌", "溪",
)  # fmt: skip
_CONFUSABLE: dict[str, str] = {}
for _group in _CONFUSABLE_GROUPS:
    for _c in _group:
        _CONFUSABLE[_c] = _CONFUSABLE.get(_c, "") + "".join(x for x in _group if x != _c)
_INSERT_POOL = "新大小东西南北中山家石"

_ROADS = (
    "人民路", "解放路", "建设路", "和平路", "胜利路", "文化路", "新华路", "光明路", "幸福路", "团结路",
    "工业路", "滨河路", "站前路", "健康路", "育才路", "学府路", "青年路", "跃进路", "红旗路", "前进路",
    "民主路", "迎宾大道", "环城东路", "府前街", "兴业街", "丰收巷", "桂花巷", "银杏路", "翠柳街", "东风路",
)  # fmt: skip
# roads named after places (中山路, 北京路 …): a parser must not read them as regions
_PLACE_ROADS = ("中山路", "北京路", "南京路", "重庆路", "延安路", "长沙路", "成都路", "上海路", "青岛路")
_DIRECTIONS = ("东", "南", "西", "北", "东北", "西南")
_ROOM_WORDS = ("栋", "幢", "号楼")
_SEPARATORS = (" ", "  ", "，", ",", "　", "-", "、")
# table rows that are not place names anyone writes (龙港县直辖村级区划, XX农场有限公司, XX管委会)
_BAD_STREET = re.compile(r"[（）()]|直辖村级区划|有限公司|管委会|管理委员会")
# statistical areas (开发区, 岛礁及其海域 …): named in full, never shortened (“…产业开发” is no short form)
_ZONE = re.compile(
    r"开发|园区|管理区|示范区|实验区|试验区|高新|新区|工业区|合作区|保税|度假区|风景|海域|农场|林场"
)


def _stem_and_suffix(name: str, short: str) -> tuple[str, str]:
    """The part of a name a typo may touch, and the administrative suffix it leaves alone."""
    if short != name and name.startswith(short):
        return short, name[len(short) :]
    return name, ""


# ---------------------------------------------------------------- the generator


class _Maker:
    def __init__(self, div: Divisions, rng: random.Random):
        self.div = div
        self.rng = rng
        counts: dict[tuple[int, str], int] = defaultdict(int)
        for d in div.by_code.values():
            counts[(d.level, d.name)] += 1
        self.name_count = counts
        # forms of every city and province, to keep an omitted level from being read into a name
        self.city_forms = {f for c in div.by_code.values() if c.level == 2 for f in c.forms}
        self.province_forms = {f for c in div.provinces for f in div[c].forms}
        self.area_forms = {f for c in div.by_code.values() if c.level == 3 for f in c.forms}

    # --- choosing a region
    def pick(self, codes: list[str]) -> str:
        return codes[self.rng.randrange(len(codes))]

    def random_chain_end(self, province: str) -> str | None:
        rng, div = self.rng, self.div
        cities = div.kids(province, 2)
        city = self.pick(cities)
        depth = rng.random()
        if depth < 0.05 and div[city].name not in _PLACEHOLDER_CITIES:
            return city
        below = div.kids(city)  # districts, or towns directly under the city
        if not below:
            return city
        node = self.pick(below)
        if div[node].level == 4:
            return node if self._usable_street(node) else city
        if "海域" in div[node].name:  # 三沙's 岛礁及其海域: no one writes an address there
            return city
        streets = [s for s in div.kids(node, 4) if self._usable_street(s)]
        if div[node].name == div[city].name:  # 嘉峪关市 (district) of 嘉峪关市: only its streets say which
            return self.pick(streets) if streets else city
        if depth < 0.33:
            return node
        return self.pick(streets) if streets else node

    def _usable_street(self, code: str) -> bool:
        return not _BAD_STREET.search(self.div[code].name)

    # --- rendering
    def item(self, end: str, tags: tuple[str, ...] = (), *, omit: str | None = None) -> EvalItem | None:
        rng, div = self.rng, self.div
        chain = div.chain(end)
        levels = {d.level: d for d in chain}
        r = rng.random()
        omission = omit or ("none" if r < 0.5 else "province" if r < 0.75 else "city" if r < 0.88 else "both")
        short = rng.random() < 0.3
        choice = self._presented(levels, omission, short)
        if choice is None and short:
            short = False
            choice = self._presented(levels, omission, short)
        if choice is None and omission != "none":
            omission = "none"
            choice = self._presented(levels, omission, short)
        if choice is None:
            return None
        presented, omitted = choice
        tags = list(tags)
        tags.append("full" if omission == "none" and not short else "")
        if omitted:
            tags.append("omit_" + "_".join(LEVEL_NAMES[lv] for lv in sorted(omitted)))
        if short:
            tags.append("short")
        tags += self._chain_tags(levels)

        parts = [presented[lv] for lv in sorted(presented)]
        meta = {"end": end, "presented": [presented[lv] for lv in sorted(presented)]}
        typo_levels = [lv for lv in (3, 4) if lv in presented and self._context_shown(levels, presented, lv)]
        if typo_levels and rng.random() < 0.2:
            lv = typo_levels[-1] if len(typo_levels) == 1 or rng.random() < 0.5 else typo_levels[0]
            idx = sorted(presented).index(lv)
            typo = self._typo(levels[lv], presented[lv], full=presented[lv] == levels[lv].name)
            if typo:
                parts[idx], kind = typo
                tags += [f"typo_{kind}", f"typo_{LEVEL_NAMES[lv]}"]
                meta["typo"] = parts[idx]

        sep = ""
        if rng.random() < 0.15:
            sep = rng.choice(_SEPARATORS)
            tags.append("separators")
        text = sep.join(parts)
        tail, tail_tags = self._tail()
        if tail:
            text += (rng.choice(("", " ", "，")) if sep == "" else sep) + tail
            tags += tail_tags
        if rng.random() < 0.05:
            text = rng.choice(("  ", " ", "\u3000")) + text + rng.choice(("。", " ", "!", "？", ""))
            tags.append("punctuation")
        if rng.random() < 0.12:
            text = traditional(text)
            tags.append("traditional")
        noisy = {"traditional", "separators", "punctuation", "typo_district", "typo_street"}
        if not tail and not noisy & set(tags):
            tags.append("clean")
        expected = div.expected(end)
        return EvalItem(text, expected, tuple(t for t in dict.fromkeys(tags) if t), meta=meta)

    def _presented(self, levels: dict, omission: str, short: bool):
        """The form of each level the text shows, or None if that would be ambiguous."""
        div = self.div
        deepest = max(levels)
        omitted: set[int] = set()
        shown: dict[int, str] = {}
        for lv, d in levels.items():
            if lv == 2 and d.name in _PLACEHOLDER_CITIES:
                continue  # 市辖区, 县, 省直辖县级行政区划: never written
            if lv == 2 and lv != deepest and lv in levels and 3 in levels and levels[3].name == d.name:
                continue  # 嘉峪关市 (city) + 嘉峪关市 (district): written once
            if omission in ("province", "both") and lv == 1 and deepest > 1:
                omitted.add(lv)  # (a city-only item is never a 市辖区: random_chain_end goes deeper)
                continue
            if omission in ("city", "both") and lv == 2 and deepest >= 3:
                omitted.add(lv)
                continue
            shown[lv] = d.short if short and not _ZONE.search(d.name) else d.name
        if not shown:
            return None
        if short and all(shown[lv] == levels[lv].name for lv in shown):
            return None  # nothing to shorten
        # unambiguous: the shown names match exactly one chain …
        if div.matches(shown) != [levels[max(shown)].code]:
            return None
        # … each name, below the one before it, is the name of no other region at any level
        # (广州白云: 白云区, or a 白云街道 of 广州? 辽宁阜新太平: 太平区 or a 太平镇?) …
        above = None
        for lv in sorted(shown):
            own = levels[lv].code
            mine = set(ancestor_codes(own))
            others = [
                c
                for other in (2, 3, 4)
                for c in div.by_form[other].get(shown[lv], ())
                if c not in mine and (above is None or above in ancestor_codes(c))
            ]
            if others:
                return None
            above = own
        top = min(shown)
        # … and no shown name reads as the level omitted just above it (辽宁朝阳: 朝阳县 or 朝阳市?)
        if top >= 2 and shown[top] in self.province_forms:
            return None
        if 2 in omitted and 3 in shown and shown[3] in self.city_forms:
            return None
        if top == 3 and shown[3] in self.province_forms | self.city_forms:
            return None
        if 4 in shown and 3 not in shown and shown[4] in self.area_forms | self.city_forms:
            return None
        return shown, omitted

    def _chain_tags(self, levels: dict) -> list[str]:
        tags = []
        if levels[1].code[:2] in MUNICIPALITIES:
            tags.append("municipality")
        if 2 in levels and levels[2].code[:4] in DIRECT_TOWN_CITIES and 4 in levels:
            tags.append("direct_town")
        if 2 in levels and levels[2].name in ("省直辖县级行政区划", "自治区直辖县级行政区划"):
            tags.append("province_direct_county")
        if 3 in levels and self.name_count[(3, levels[3].name)] > 1:
            tags.append("shared_district")
        if 4 in levels and self.name_count[(4, levels[4].name)] > 1:
            tags.append("shared_town")
        return tags

    @staticmethod
    def _context_shown(levels: dict, presented: dict, lv: int) -> bool:
        """Whether the text names the region just above ``lv`` (the one a typo is matched within);
        市辖区/县/省直辖县级行政区划 are skipped for the province; a name shared with its parent
        (嘉峪关市 in 嘉峪关市) gets no typo."""
        for up in range(lv - 1, 0, -1):
            if up not in levels or (up == 2 and levels[up].name in _PLACEHOLDER_CITIES):
                continue
            return up in presented and levels[up].name != levels[lv].name
        return False

    def _typo(self, d: Division, shown: str, *, full: bool) -> tuple[str, str] | None:
        """One wrong, missing or extra character in the name's stem, keeping it distinct from its siblings.

        A two-character stem (江阳) only gets a typo when its suffix is written (江杨区): a
        two-character short form with one character wrong is no longer that name."""
        rng, div = self.rng, self.div
        stem, suffix = _stem_and_suffix(shown, d.short) if full else (shown, "")
        if len(stem) < 2 or (len(stem) == 2 and not suffix):
            return None
        siblings = {f for s in div.kids(d.parent or "", d.level) if s != d.code for f in div[s].forms}
        kinds = ["sub", "ins"] + (["del"] if len(stem) >= 3 else [])
        rng.shuffle(kinds)
        for kind in kinds:
            if kind == "sub":
                spots = [i for i, c in enumerate(stem) if c in _CONFUSABLE]
                if not spots:
                    continue
                i = rng.choice(spots)
                new = stem[:i] + rng.choice(_CONFUSABLE[stem[i]]) + stem[i + 1 :]
            elif kind == "del":
                i = rng.randrange(len(stem))
                new = stem[:i] + stem[i + 1 :]
            else:
                i = rng.randrange(1, len(stem) + 1)
                new = stem[:i] + rng.choice(_INSERT_POOL + stem) + stem[i:]
            if new != stem and new not in siblings and new + suffix not in siblings:
                return new + suffix, kind
        return None

    def _tail(self) -> tuple[str, list[str]]:
        rng = self.rng
        r = rng.random()
        road_tags: list[str] = []
        if rng.random() < 0.08:
            road = rng.choice(_PLACE_ROADS)
            road_tags.append("place_road")
        else:
            road = rng.choice(_ROADS)
        number = rng.choice((rng.randint(1, 30), rng.randint(1, 300)))
        if r < 0.35:
            return "", []
        if r < 0.55:
            tail, tags = f"{road}{number}号", ["door_number"]
        elif r < 0.65:
            tail, tags = f"{road}{chinese_number(number)}号", ["door_number", "cn_numeral"]
        elif r < 0.72:
            tail, tags = f"{road}{number}号附近", ["door_number", "nearby"]
        elif r < 0.77:
            tail, tags = "附近", ["nearby"]
        elif r < 0.87:
            cross = rng.choice([x for x in _ROADS if x != road])
            metres = rng.choice((20, 50, 80, 100, 150, 200))
            joint = rng.choice((f"{road}与{cross}", f"{road}", f"{road}{cross}"))
            tail, tags = f"{joint}路口{rng.choice(_DIRECTIONS)}{metres}米", ["crossing"]
        else:
            block = rng.randint(1, 24)
            unit = rng.randint(1, 6)
            room = rng.randint(1, 32) * 100 + rng.randint(1, 8)
            letter = rng.choice(("", "", "A座", "B座"))
            word = rng.choice(_ROOM_WORDS)
            tail, tags = f"{road}{number}号{block}{word}{letter}{unit}单元{room}室", ["door_number", "room"]
        if any(c.isascii() and c.isalnum() for c in tail) and rng.random() < 0.3:
            tail = fullwidth(tail)
            tags.append("fullwidth")
        return tail, road_tags + tags


def build_evalset(
    *, seed: int = DEFAULT_SEED, n: int = 2000, hard: bool = True, directory: Path = DIVISIONS_DIR
) -> list[EvalItem]:
    """About ``n`` addresses across every province (round robin), plus the hard cases if ``hard``."""
    div = load_divisions(directory)
    rng = random.Random(seed)
    maker = _Maker(div, rng)
    items: list[EvalItem] = []
    provinces = div.provinces
    i = 0
    while len(items) < n:
        end = maker.random_chain_end(provinces[i % len(provinces)])
        i += 1
        if end is None:
            continue
        item = maker.item(end)
        if item is not None:
            items.append(item)
    if hard:
        items += _hard_cases(div, maker)
    return items


def _hard_cases(div: Divisions, maker: _Maker) -> list[EvalItem]:
    rng = maker.rng
    out: list[EvalItem] = []

    def add(end: str, tag: str, omit: str | None = None) -> None:
        item = maker.item(end, (tag,), omit=omit)
        if item is not None:
            out.append(item)

    # district names shared by several cities (鼓楼区 ×4, 市中区 ×4 …), always with their city
    shared = [c for c, d in div.by_code.items() if d.level == 3 and maker.name_count[(3, d.name)] > 1]
    for code in shared:
        streets = [s for s in div.kids(code, 4) if maker._usable_street(s)]
        # a municipality's own name is its city: never left out here
        omits = ("none",) if code[:2] in MUNICIPALITIES else ("none", "province")
        add(code, "hard_shared_district", omit=rng.choice(omits))
        if streets:
            add(maker.pick(streets), "hard_shared_district", omit=rng.choice(omits))
    # town names found in many counties (城关镇 ×88, 太平镇 …), with district and city
    common = sorted(
        (c for c, d in div.by_code.items() if d.level == 4 and maker.name_count[(4, d.name)] >= 10),
        key=lambda c: c,
    )
    for code in rng.sample(common, min(120, len(common))):
        omits = ("none",) if code[:2] in MUNICIPALITIES else ("none", "province")
        add(code, "hard_shared_town", omit=rng.choice(omits))
    # the municipalities (市辖区 / 县 at city level)
    for prov in MUNICIPALITIES:
        for _ in range(25):
            end = maker.random_chain_end(pad_code(prov))
            if end:
                add(end, "hard_municipality")
    # towns directly under a prefecture city (and 嘉峪关's district of the same name)
    for city in DIRECT_TOWN_CITIES:
        towns = [
            t for t in div.by_code if t.startswith(city) and div[t].level == 4 and maker._usable_street(t)
        ]
        for code in rng.sample(towns, min(15, len(towns))):
            add(code, "hard_direct_town")
    # counties directly under a province (仙桃, 济源, 石河子 …)
    for city in ("4190", "4290", "4690", "6590"):
        counties = div.kids(pad_code(city), 3)
        for _ in range(15):
            county = maker.pick(counties)
            towns = [t for t in div.kids(county, 4) if maker._usable_street(t)]
            add(maker.pick(towns) if towns and rng.random() < 0.7 else county, "hard_province_direct_county")
    return out


# ---------------------------------------------------------------- the demo city's address points


def _door_fields(door) -> tuple[str, int, str, float, float, str]:
    """(road, number, suffix, lon, lat, grid code) of a ``demo.addressgen.DoorSpec`` (or a tuple)."""
    if isinstance(door, tuple | list) and not hasattr(door, "_fields"):
        road, number, suffix, lon, lat = door[:5]
        return str(road), int(number), str(suffix or ""), float(lon), float(lat), ""
    return (
        str(door.road),
        int(door.number),
        str(getattr(door, "suffix", "") or ""),
        float(door.lon),
        float(door.lat),
        str(getattr(door, "grid_code", "") or ""),
    )


def demo_items(
    plan,
    *,
    seed: int = DEFAULT_SEED,
    doors: int = 400,
    gaps: int = 100,
    pois: int = 100,
    buildings: int = 100,
) -> list[EvalItem] | None:
    """Addresses of the demo city (泸州) with their true points, from a ``CityPlan``.

    * ``door``: door plates of ``plan.doors`` (道路 + 门牌号, 12-1号 …);
    * ``door_gap``: numbers of ``plan.door_gaps``, left out of the gazetteer, with the point
      where they would stand (what interpolation should find);
    * ``poi`` and ``building``: ``plan.pois`` by name, ``plan.buildings`` as compound + number.

    ``meta["kind"]`` says which, ``meta["grid_code"]`` is the unit grid of the true point.
    Region labels: the chain of the deepest region the text names (always the city, often
    the district, sometimes the street/town, taken from the plan's polygons at the point).
    Returns None for a plan without door plates (before ``CityPlan.doors`` existed).
    """
    if getattr(plan, "doors", None) is None:
        return None
    import shapely

    rng = random.Random(seed)
    div = load_divisions()
    districts = [r for r in plan.regions if r.level == 3]
    streets = [r for r in plan.regions if r.level == 4]
    city = div[plan.city.code]
    province = div[city.parent]

    def containing(regions, lon, lat):
        return next((r for r in regions if shapely.intersects_xy(r.geom, lon, lat)), None)

    def head(lon: float, lat: float, tags: list[str]) -> tuple[str, str]:
        """The regions written before the address proper, and the code of the deepest one."""
        district = containing(districts, lon, lat)
        street = containing(streets, lon, lat)
        r = rng.random()
        if district is None or r < 0.35:
            return (city.name if rng.random() < 0.7 else city.short), city.code
        if r < 0.6:
            tags.append("full")
            return f"{province.name}{city.name}{district.name}", district.code
        if r < 0.8:
            tags.append("short")
            return f"{city.short}{div[district.code].short}", district.code
        if street is None:
            return f"{city.name}{district.name}", district.code
        return f"{city.name}{district.name}{street.name}", street.code

    def noisy(text: str, tags: list[str]) -> str:
        if rng.random() < 0.15:
            text = fullwidth(text)
            tags.append("fullwidth")
        if rng.random() < 0.1:
            text += rng.choice(("附近", " 附近", "旁", "（门口）", "，"))
            tags.append("nearby")
        if rng.random() < 0.1:
            text = traditional(text)
            tags.append("traditional")
        return text

    def sample(seq, k: int) -> list:
        return rng.sample(seq, min(k, len(seq)))

    items: list[EvalItem] = []
    door_rows = sorted(_door_fields(d) for d in plan.doors)
    gap_rows = sorted(_door_fields(d) for d in getattr(plan, "door_gaps", ()) or ())
    for kind, rows, k in (("door", door_rows, doors), ("door_gap", gap_rows, gaps)):
        for road, number, suffix, lon, lat, grid in sample(rows, k):
            tags = [kind]
            if suffix or rng.random() < 0.8:
                plate = f"{number}{suffix}号"
            else:
                plate = f"{chinese_number(number)}号"
                tags.append("cn_numeral")
            prefix, named = head(lon, lat, tags)
            text = noisy(prefix + road + plate, tags)
            meta = {"kind": kind, "road": road, "number": number, "suffix": suffix, "grid_code": grid}
            items.append(EvalItem(text, div.expected(named), tuple(tags), point=(lon, lat), meta=meta))
    for poi in sample(sorted(getattr(plan, "pois", ()) or (), key=lambda p: (p.name, p.lon)), pois):
        tags = ["poi"]
        prefix, named = head(poi.lon, poi.lat, tags)
        text = noisy(prefix + poi.name, tags)
        meta = {"kind": "poi", "name": poi.name, "grid_code": getattr(poi, "grid_code", "")}
        items.append(EvalItem(text, div.expected(named), tuple(tags), point=(poi.lon, poi.lat), meta=meta))
    rows = sorted(getattr(plan, "buildings", ()) or (), key=lambda b: (b.place, b.number))
    for b in sample(rows, buildings):
        tags = ["building"]
        prefix, named = head(b.lon, b.lat, tags)
        word = rng.choice(("栋", "幢", "号楼"))
        text = noisy(f"{prefix}{b.place}{b.number}{word}", tags)
        meta = {"kind": "building", "place": b.place, "number": b.number, "grid_code": b.grid_code}
        items.append(EvalItem(text, div.expected(named), tuple(tags), point=(b.lon, b.lat), meta=meta))
    return items
