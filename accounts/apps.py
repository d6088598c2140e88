from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "账号、权限与审计"

    def ready(self) -> None:
        from . import audit, schema  # noqa: F401  (schema: the OpenAPI extensions register on import)

        audit.connect_signals()
