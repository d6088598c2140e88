"""Photos and voice notes of reports and transitions: checked by their content, stored
under MEDIA_ROOT (or whatever storage ``STORAGES["default"]`` names) with a thumbnail.

Every upload is read and checked before anything is written, so a bad file refuses
the whole request; files already stored are removed again if the transaction that
records them fails (:class:`StoredFiles`).
"""

from __future__ import annotations

import io
import uuid
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageOps, UnidentifiedImageError

from gis_core.errors import InvalidInput, TooLarge

from ..models import Attachment, AttachmentKind, Event, EventTransition

__all__ = ["CheckedFile", "StoredFiles", "attachment_check", "attachments_check", "attachments_save"]

IMAGE_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
ACCEPTED = "图片（JPEG、PNG、WebP）或音频（MP3、M4A、AMR、WAV）"


@dataclass(frozen=True)
class CheckedFile:
    name: str
    kind: str  # image / audio
    content_type: str
    extension: str
    content: bytes
    thumbnail: bytes | None = None


def _audio_type(head: bytes) -> tuple[str, str] | None:
    """(content type, extension) of an audio file by its magic bytes, or None."""
    if head.startswith(b"#!AMR"):  # AMR-NB "#!AMR\n", AMR-WB "#!AMR-WB\n"
        return "audio/amr", "amr"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav", "wav"
    if head[4:8] == b"ftyp" and head[8:12] in (b"M4A ", b"M4B ", b"mp42", b"isom", b"mp41", b"dash"):
        return "audio/mp4", "m4a"
    if head.startswith(b"ID3"):
        return "audio/mpeg", "mp3"
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return "audio/mpeg", "mp3"  # an MPEG audio frame header (sync bits, layer not reserved)
    return None


def _image(content: bytes, name: str) -> tuple[str, str, bytes] | None:
    """(content type, extension, JPEG thumbnail) of an image we accept, or None if not an image."""
    cfg = settings.CIVGRID
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as img:
                fmt = img.format
                if fmt not in IMAGE_FORMATS:
                    return None
                if img.width * img.height > cfg["EVENT_IMAGE_MAX_PIXELS"]:
                    raise TooLarge(
                        f"图片 {name} 像素过多（{img.width}×{img.height}）",
                        details={"file": name, "max_pixels": cfg["EVENT_IMAGE_MAX_PIXELS"]},
                    )
                img.verify()  # structure; a truncated or corrupt file fails here or on load below
            with Image.open(io.BytesIO(content)) as img:
                img.load()
                thumb = ImageOps.exif_transpose(img)
                thumb.thumbnail((cfg["EVENT_THUMBNAIL_PX"], cfg["EVENT_THUMBNAIL_PX"]))
                if thumb.mode not in ("RGB", "L"):
                    thumb = thumb.convert("RGBA")
                    background = Image.new("RGB", thumb.size, "white")
                    background.paste(thumb, mask=thumb.getchannel("A"))
                    thumb = background
                out = io.BytesIO()
                thumb.save(out, "JPEG", quality=80)
    except UnidentifiedImageError:
        return None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooLarge(
            f"图片 {name} 像素过多", details={"file": name, "max_pixels": cfg["EVENT_IMAGE_MAX_PIXELS"]}
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(f"图片 {name} 已损坏，无法读取：{exc}", details={"file": name}) from None
    content_type, extension = IMAGE_FORMATS[fmt]
    return content_type, extension, out.getvalue()


def attachment_check(upload) -> CheckedFile:
    """One uploaded file → a checked file; 413 if too large, 400 if neither image nor audio."""
    cfg = settings.CIVGRID
    name = (getattr(upload, "name", "") or "附件")[:200]
    top = max(cfg["EVENT_IMAGE_MAX_BYTES"], cfg["EVENT_AUDIO_MAX_BYTES"])
    if upload.size > top:
        raise TooLarge(
            f"附件 {name} 过大（{upload.size} 字节，上限 {top} 字节）", details={"file": name, "max": top}
        )
    content = upload.read()
    if not content:
        raise InvalidInput(f"附件 {name} 为空", details={"file": name})
    audio = _audio_type(content[:16])
    if audio is not None:
        cap = cfg["EVENT_AUDIO_MAX_BYTES"]
        if len(content) > cap:
            raise TooLarge(f"音频 {name} 过大（上限 {cap} 字节）", details={"file": name, "max": cap})
        return CheckedFile(name, AttachmentKind.AUDIO, audio[0], audio[1], content)
    cap = cfg["EVENT_IMAGE_MAX_BYTES"]
    if len(content) > cap:
        raise TooLarge(f"图片 {name} 过大（上限 {cap} 字节）", details={"file": name, "max": cap})
    image = _image(content, name)
    if image is None:
        raise InvalidInput(
            f"附件 {name} 不是支持的类型：应为{ACCEPTED}", code="unsupported_file", details={"file": name}
        )
    content_type, extension, thumbnail = image
    return CheckedFile(name, AttachmentKind.IMAGE, content_type, extension, content, thumbnail)


def attachments_check(uploads: list) -> list[CheckedFile]:
    limit = settings.CIVGRID["EVENT_ATTACHMENTS_MAX"]
    if len(uploads) > limit:
        raise TooLarge(f"一次最多 {limit} 个附件，收到 {len(uploads)} 个", details={"max": limit})
    return [attachment_check(u) for u in uploads]


class StoredFiles:
    """The files written in a block: removed again if the block raises."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __enter__(self) -> StoredFiles:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            for name in self.names:
                default_storage.delete(name)


def attachments_save(
    *, event: Event, transition: EventTransition | None, files: list[CheckedFile], stored: StoredFiles
) -> list[Attachment]:
    """Store checked files and record them (inside the caller's transaction)."""
    rows = []
    for f in files:
        stem = uuid.uuid4().hex
        attachment = Attachment(
            event=event, transition=transition, kind=f.kind, content_type=f.content_type,
            size=len(f.content), original_name=f.name,
        )  # fmt: skip
        attachment.file.save(f"{stem}.{f.extension}", ContentFile(f.content), save=False)
        stored.names.append(attachment.file.name)
        if f.thumbnail is not None:
            attachment.thumbnail.save(f"{stem}_thumb.jpg", ContentFile(f.thumbnail), save=False)
            stored.names.append(attachment.thumbnail.name)
        attachment.save()
        rows.append(attachment)
    return rows
