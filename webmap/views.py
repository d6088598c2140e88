"""The web pages' shell: login page, the command center, and what every page shares.

Pages are thin: they check the login and the page's scope, embed who the user is
(``user_info``, read by ``core.js``) and render a template. Every piece of data the
page shows comes afterwards from the API (/api/v1), the vector tiles (/tiles/) and
the base map (/basemap/), under the same jurisdiction scoping as any other caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import ensure_csrf_cookie

from accounts.models import Role
from accounts.permissions import principal_of
from accounts.scoping import Jurisdiction
from gis_core.models import Region

__all__ = ["PAGES", "Page", "center", "login_page", "page_view", "render_page", "root", "user_info"]


@dataclass(frozen=True)
class Page:
    name: str  # URL name in the "webmap" namespace
    title: str
    scope: str  # the scope a user needs to open the page (and to see it in the top bar)


PAGES: tuple[Page, ...] = (
    Page("center", "指挥中心", "regions:read"),
    Page("track", "轨迹回放", "tracks:read"),
    Page("planner", "文明创建", "civilization:read"),
    Page("field", "网格员", "events:write"),
)
_PAGES = {p.name: p for p in PAGES}

# seconds the map extent of a jurisdiction is kept (boundaries change rarely; a stale extent only
# moves where the map opens)
_BOUNDS_TTL_S = 600


def _bounds(jurisdiction: Jurisdiction) -> list[list[float]] | None:
    """[[south, west], [north, east]] of the jurisdiction's area (nationwide: every mapped region)."""
    j = jurisdiction
    key = f"webmap:bounds:{j.nationwide}:{j.region_code}:{','.join(j.grid_codes)}"
    cached = cache.get(key)
    if cached is not None:
        return cached or None
    if jurisdiction.nationwide:
        from django.contrib.gis.db.models import Extent

        extent = Region.objects.filter(geom__isnull=False).aggregate(e=Extent("geom"))["e"]
    else:
        geom = jurisdiction.geometry
        extent = geom.extent if geom is not None else None
    bounds = [[extent[1], extent[0]], [extent[3], extent[2]]] if extent else []
    cache.set(key, bounds, _BOUNDS_TTL_S)
    return bounds or None


def user_info(request: HttpRequest) -> dict:
    """Who is signed in, as the pages need it (embedded as JSON; core.js ``userInfo()``)."""
    principal = principal_of(request)
    j = principal.jurisdiction if principal else Jurisdiction()
    region = Region.objects.filter(code=j.region_code).only("code", "name").first() if j.region_code else None
    membership = getattr(request.user, "membership", None)
    roles = list(getattr(membership, "roles", None) or ([Role.ADMIN] if request.user.is_superuser else []))
    labels = dict(Role.choices)
    if j.nationwide:
        where = "全国"
    elif region is not None:
        where = region.name
    elif j.grid_codes:
        where = f"{len(j.grid_codes)} 个网格"
    else:
        where = "无管辖范围"
    return {
        "username": request.user.get_username(),
        "display_name": request.user.get_full_name() or request.user.get_username(),
        "roles": [{"code": r, "name": str(labels.get(r, r))} for r in roles],
        "jurisdiction": {
            "nationwide": j.nationwide,
            "region": region.code if region else j.region_code,
            "region_name": region.name if region else None,
            "grids": list(j.grid_codes),
            "label": where,
        },
        "scopes": sorted(principal.scopes) if principal else [],
        "bounds": _bounds(j) if principal else None,
    }


def render_page(request: HttpRequest, template: str, page: str, context: dict | None = None) -> HttpResponse:
    """A page with the shared context: ``user_info``, the top-bar links the user may use, the active page."""
    info = user_info(request)
    scopes = set(info["scopes"])
    nav = [
        {"name": p.name, "title": p.title, "url": reverse(f"webmap:{p.name}"), "active": p.name == page}
        for p in PAGES
        if p.scope in scopes
    ]
    return render(request, template, {"user_info": info, "nav": nav, "page": page, **(context or {})})


def page_view(name: str) -> Callable:
    """Decorator for a page view: signed in (else to /login/?next=…) and holding the page's scope
    (else a 403 page saying so)."""
    page = _PAGES[name]

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @ensure_csrf_cookie  # core.js sends it back as X-CSRFToken on writes
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("webmap:login"))
            principal = principal_of(request)
            if principal is None or page.scope not in principal.scopes or principal.jurisdiction.is_empty:
                response = render_page(request, "webmap/forbidden.html", name, {"page_title": page.title})
                response.status_code = 403
                return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _home(request: HttpRequest) -> str:
    """The first page the user may open (the command center for most roles)."""
    principal = principal_of(request)
    scopes = principal.scopes if principal else frozenset()
    for p in PAGES:
        if p.scope in scopes:
            return reverse(f"webmap:{p.name}")
    return reverse("webmap:center")  # shows why it cannot be used


def root(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_home(request))
    return redirect_to_login(reverse("webmap:center"), reverse("webmap:login"))


def _safe_next(request: HttpRequest) -> str:
    target = request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


@ensure_csrf_cookie
def login_page(request: HttpRequest) -> HttpResponse:
    """登录页: the form posts to ``POST /api/v1/auth/login`` (axes lockout, the server's message)."""
    target = _safe_next(request)
    if request.user.is_authenticated:
        return redirect(target or _home(request))
    return render(request, "webmap/login.html", {"next": target or reverse("webmap:root")})


@page_view("center")
def center(request: HttpRequest) -> HttpResponse:
    """指挥中心: the map, its tools and the side panels (webmap/_panels.html, js/panels/)."""
    return render_page(request, "webmap/center.html", "center")
