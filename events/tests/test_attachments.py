"""Attachments (events/services/attachments.py): images checked by content with a thumbnail,
audio by magic bytes, size caps, and a refused file leaves nothing behind."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from events.models import Attachment, Event
from events.services.reporting import ReportInput, event_report

from .conftest import image_upload

URL = "/api/v1/events"

AUDIO = {
    "note.mp3": (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 200, "audio/mpeg"),
    "frame.mp3": (b"\xff\xfb\x90\x64" + b"\x00" * 200, "audio/mpeg"),
    "voice.amr": (b"#!AMR\n" + b"\x3c" * 200, "audio/amr"),
    "voice.wav": (b"RIFF\x24\x08\x00\x00WAVEfmt " + b"\x00" * 200, "audio/wav"),
    "voice.m4a": (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00" + b"\x00" * 200, "audio/mp4"),
}


def form(category, place, **extra) -> dict:
    return {"category": category.code, "description": "占道经营", "lon": place.lon, "lat": place.lat, **extra}


def stored_files(media_root) -> list:
    return [p for p in media_root.rglob("*") if p.is_file()] if media_root.exists() else []


def test_a_photo_is_stored_with_a_thumbnail(operator_a_api, category, a_place, media_root):
    response = operator_a_api.post(URL, form(category, a_place, photos=[image_upload()]), format="multipart")

    assert response.status_code == 201, response.content
    [item] = response.json()["properties"]["attachments"]
    assert (item["kind"], item["content_type"], item["original_name"]) == ("image", "image/jpeg", "photo.jpg")
    attachment = Attachment.objects.get(pk=item["id"])
    assert attachment.transition.action == "report"
    assert attachment.file.name.startswith("events/") and (media_root / attachment.file.name).exists()
    with Image.open(media_root / attachment.thumbnail.name) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) == 320 and thumb.size == (320, 240)
    # served through the API, in the caller's jurisdiction only
    got = operator_a_api.get(item["url"])
    assert got.status_code == 200 and got["Content-Type"] == "image/jpeg"
    assert b"".join(got.streaming_content) == (media_root / attachment.file.name).read_bytes()
    thumb = operator_a_api.get(item["thumbnail_url"])
    assert thumb.status_code == 200 and b"".join(thumb.streaming_content)[:2] == b"\xff\xd8"


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp(operator_a_api, category, a_place, fmt):
    buffer = io.BytesIO()
    Image.new("RGBA", (400, 800), (10, 20, 30, 128)).save(buffer, fmt)
    upload = SimpleUploadedFile("x." + fmt.lower(), buffer.getvalue())
    response = operator_a_api.post(URL, form(category, a_place, photos=[upload]), format="multipart")

    assert response.status_code == 201, response.content
    attachment = Attachment.objects.get(pk=response.json()["properties"]["attachments"][0]["id"])
    assert attachment.content_type == f"image/{fmt.lower()}"
    with attachment.thumbnail.open("rb") as fh, Image.open(fh) as thumb:
        assert thumb.size == (160, 320)


@pytest.mark.parametrize("name", sorted(AUDIO))
def test_audio_is_recognised_by_its_magic_bytes(operator_a_api, category, a_place, name):
    content, content_type = AUDIO[name]
    upload = SimpleUploadedFile(name, content, content_type="application/octet-stream")
    response = operator_a_api.post(URL, form(category, a_place, audio=[upload]), format="multipart")

    assert response.status_code == 201, response.content
    [item] = response.json()["properties"]["attachments"]
    assert (item["kind"], item["content_type"], item["thumbnail_url"]) == ("audio", content_type, None)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("photo.jpg", b"this is not a picture at all"),
        ("evil.png", b"<?php system($_GET['c']); ?>"),
        ("movie.mp4", b"\x00\x00\x00\x20ftypavc1" + b"\x00" * 100),
        ("doc.pdf", b"%PDF-1.7\n" + b"\x00" * 100),
        ("anim.gif", b"GIF89a" + b"\x00" * 100),
    ],
)
def test_files_that_are_neither_image_nor_audio_are_refused(
    operator_a_api, category, a_place, media_root, name, content
):
    uploads = [image_upload(), SimpleUploadedFile(name, content, content_type="image/jpeg")]
    response = operator_a_api.post(URL, form(category, a_place, photos=uploads), format="multipart")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in ("unsupported_file", "invalid")
    assert name in response.json()["error"]["message"]
    assert not Event.objects.filter(category=category).exists()
    assert stored_files(media_root) == []  # the good photo was not stored either


def test_a_truncated_jpeg_is_refused(operator_a_api, category, a_place):
    content = image_upload().read()
    upload = SimpleUploadedFile("cut.jpg", content[: len(content) // 2])
    response = operator_a_api.post(URL, form(category, a_place, photos=[upload]), format="multipart")

    assert response.status_code == 400
    assert not Event.objects.filter(category=category).exists()


def test_too_large(operator_a_api, category, a_place, media_root, settings):
    settings.CIVGRID = {**settings.CIVGRID, "EVENT_IMAGE_MAX_BYTES": 10_000, "EVENT_AUDIO_MAX_BYTES": 5_000}
    big = image_upload(size=(2000, 2000))
    assert big.size > 10_000
    response = operator_a_api.post(URL, form(category, a_place, photos=[big]), format="multipart")
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"

    audio = SimpleUploadedFile("long.amr", b"#!AMR\n" + b"\x3c" * 8_000)
    response = operator_a_api.post(URL, form(category, a_place, photos=[audio]), format="multipart")
    assert response.status_code == 413

    assert not Event.objects.filter(category=category).exists()
    assert stored_files(media_root) == []


def test_too_many_pixels(operator_a_api, category, a_place, settings):
    settings.CIVGRID = {**settings.CIVGRID, "EVENT_IMAGE_MAX_PIXELS": 100_000}
    response = operator_a_api.post(
        URL, form(category, a_place, photos=[image_upload(size=(400, 300))]), format="multipart"
    )
    assert response.status_code == 413


def test_too_many_files(operator_a_api, category, a_place, settings):
    settings.CIVGRID = {**settings.CIVGRID, "EVENT_ATTACHMENTS_MAX": 2}
    uploads = [image_upload(f"p{i}.jpg", size=(10, 10)) for i in range(3)]
    response = operator_a_api.post(URL, form(category, a_place, photos=uploads), format="multipart")
    assert response.status_code == 413


def test_photos_of_a_transition(api, root, category, a_place, media_root):
    event = event_report(
        principal=root,
        data=ReportInput(category=category.code, description="x", point=(a_place.lon, a_place.lat)),
    ).event
    response = api.post(
        f"{URL}/{event.pk}/transitions",
        {
            "action": "verify",
            "note": "现场照片",
            "photos": [image_upload("a.jpg"), image_upload("b.png", "PNG")],
        },
        format="multipart",
    )

    assert response.status_code == 200, response.content
    props = response.json()["properties"]
    verify = props["transitions"][-1]
    assert [a["transition"] for a in props["attachments"]] == [verify["id"], verify["id"]]
    assert len(stored_files(media_root)) == 4  # two photos, two thumbnails

    # a bad photo refuses the transition, and stores nothing
    response = api.post(
        f"{URL}/{event.pk}/transitions",
        {
            "action": "register",
            "note": "立案",
            "photos": [image_upload("c.jpg"), SimpleUploadedFile("d.jpg", b"x")],
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert Event.objects.get(pk=event.pk).state == "verified"
    assert len(stored_files(media_root)) == 4


def test_files_are_removed_when_the_transaction_fails(root, category, a_place, media_root, monkeypatch):
    from events.models import EventTransition

    def fail(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Attachment, "save", lambda self, *a, **k: fail() if self.kind == "audio" else None)
    photo = image_upload()
    audio = SimpleUploadedFile("v.amr", b"#!AMR\n" + b"\x3c" * 100)
    with pytest.raises(RuntimeError):
        event_report(
            principal=root,
            data=ReportInput(category=category.code, description="x", point=(a_place.lon, a_place.lat)),
            uploads=[photo, audio],
        )
    assert stored_files(media_root) == []
    assert not Event.objects.filter(category=category).exists()
    assert not EventTransition.objects.filter(event__category=category).exists()


def test_attachments_of_another_district_are_not_served(operator_a_api, operator_b_api, category, b_place):
    response = operator_b_api.post(URL, form(category, b_place, photos=[image_upload()]), format="multipart")
    item = response.json()["properties"]["attachments"][0]
    assert operator_b_api.get(item["url"]).status_code == 200
    assert operator_a_api.get(item["url"]).status_code == 404
    assert operator_a_api.get(item["thumbnail_url"]).status_code == 404
    event_id = response.json()["id"]
    assert operator_b_api.get(f"{URL}/{event_id}/attachments/999999").status_code == 404
