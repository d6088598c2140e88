"""How our authentication appears in the OpenAPI schema (drf-spectacular extensions).

Loaded from :meth:`accounts.apps.AccountsConfig.ready`; each operation then lists the schemes
its view really accepts (session cookie, ``Authorization: Bearer cg_…``, and on the Open311
routes also the ``api_key`` query parameter).
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from .authentication import ApiKeyAuthentication, ApiKeyParamAuthentication


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "cg_<前缀>_<密钥>",
            "description": "API 密钥：`Authorization: Bearer cg_<前缀>_<密钥>`（在管理后台或 API 中签发）",
        }


class ApiKeyParamScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyParamAuthentication
    name = ["ApiKey", "ApiKeyParam"]

    def get_security_definition(self, auto_schema):
        return [
            ApiKeyScheme.get_security_definition(self, auto_schema),
            {
                "type": "apiKey",
                "in": "query",
                "name": "api_key",
                "description": (
                    "API 密钥作为 `api_key` 查询参数（Open311 GeoReport 客户端的习惯，仅 Open311 路由）"
                ),
            },
        ]
