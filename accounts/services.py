"""Writes of accounts: users with roles and jurisdiction, API keys."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from gis_core.codes import InvalidCode, pad_code
from gis_core.errors import InvalidInput, NotFound
from gis_core.models import Region

from .authentication import forget_key, hash_token
from .models import ApiKey, Membership, Role
from .permissions import SCOPES

__all__ = ["IssuedKey", "apikey_issue", "apikey_revoke", "user_create"]


def _region(code: str | None) -> Region | None:
    if not code:
        return None
    try:
        padded = pad_code(code)
    except InvalidCode as exc:
        raise InvalidInput(str(exc), details={"region": code}) from None
    region = Region.objects.filter(code=padded).first()
    if region is None:
        raise InvalidInput(f"区划 {padded} 不存在", details={"region": code})
    return region


def _grid_codes(codes: list[str]) -> list[str]:
    bad = [c for c in codes if not (len(c) == 15 and c.isdigit())]
    if bad:
        raise InvalidInput(f"网格编码应为 15 位数字：{'、'.join(bad)}", details={"grid_codes": bad})
    return sorted(set(codes))


def _check_jurisdiction(nationwide: bool, region: Region | None, grid_codes: list[str]) -> None:
    if sum([nationwide, region is not None, bool(grid_codes)]) != 1:
        raise InvalidInput("管辖范围必须且只能是以下之一：全国、一个区划、一组网格")


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    roles: list[str],
    region_code: str | None = None,
    grid_codes: list[str] = (),
    nationwide: bool = False,
    superuser: bool = False,
    full_name: str = "",
):
    """Create a user with roles and a jurisdiction; the password must pass the strength rules."""
    unknown = set(roles) - set(Role.values)
    if unknown or not roles:
        raise InvalidInput(
            f"角色无效：{'、'.join(sorted(unknown)) or '（未指定）'}；可选 {'、'.join(Role.values)}"
        )
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise InvalidInput(f"用户名 {username} 已存在")
    region = _region(region_code)
    grids = _grid_codes(list(grid_codes))
    _check_jurisdiction(nationwide, region, grids)
    user = User(username=username, first_name=full_name, is_staff=superuser or Role.ADMIN in roles)
    user.is_superuser = superuser
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput("密码不符合要求：" + "；".join(exc.messages)) from None
    user.set_password(password)
    user.save()
    Membership.objects.create(
        user=user, roles=list(roles), region=region, grid_codes=grids, nationwide=nationwide
    )
    return user


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    token: str  # shown once, never stored


@transaction.atomic
def apikey_issue(
    *,
    name: str,
    scopes: list[str],
    region_code: str | None = None,
    grid_codes: list[str] = (),
    nationwide: bool = False,
    expires_at: dt.datetime | None = None,
    rate_limit_per_minute: int | None = None,
    created_by=None,
) -> IssuedKey:
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise InvalidInput(
            f"权限范围无效：{'、'.join(sorted(unknown)) or '（未指定）'}；可选 {'、'.join(SCOPES)}"
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput("过期时间必须晚于现在")
    region = _region(region_code)
    grids = _grid_codes(list(grid_codes))
    _check_jurisdiction(nationwide, region, grids)
    prefix = secrets.token_hex(4)
    while ApiKey.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(4)
    token = f"cg_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        name=name, prefix=prefix, key_hash=hash_token(token), scopes=sorted(set(scopes)), region=region,
        grid_codes=grids, nationwide=nationwide, expires_at=expires_at,
        rate_limit_per_minute=rate_limit_per_minute, created_by=created_by,
    )  # fmt: skip
    return IssuedKey(key=key, token=token)


@transaction.atomic
def apikey_revoke(*, prefix: str) -> ApiKey:
    key = ApiKey.objects.select_for_update().filter(prefix=prefix).first()
    if key is None:
        raise NotFound(f"没有前缀为 {prefix} 的 API 密钥")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    forget_key(prefix)  # other processes notice within KEY_CACHE_SECONDS
    return key
