from django.core.exceptions import ValidationError

__all__ = ["CharacterClassValidator"]


class CharacterClassValidator:
    """A password needs letters and digits (GB/T 22239 等保 asks for mixed character classes)."""

    def validate(self, password: str, user=None) -> None:
        if not (any(c.isalpha() for c in password) and any(c.isdigit() for c in password)):
            raise ValidationError("密码必须同时包含字母和数字", code="password_character_classes")

    def get_help_text(self) -> str:
        return "密码必须同时包含字母和数字。"
