"""The uploaded-files storage (``STORAGES["default"]``): Django's file system storage that
never leaves half a file behind.

Django's ``FileSystemStorage`` streams an upload straight into its final name; when the
disk fills (ENOSPC) or a quota is reached (EDQUOT) in the middle, the truncated file stays
there under a name nothing refers to. Here the content is written to a hidden temporary
file in the same directory first and renamed into place only when complete (a rename
needs no space); on any error the temporary file is removed. The error itself propagates:
the caller's transaction rolls back (events.services.attachments removes the files
already stored), and :mod:`config.middleware` answers 507 ``insufficient_storage``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

from django.core.files import File
from django.core.files.storage import FileSystemStorage

__all__ = ["MediaStorage"]


class _Complete(File):
    """A finished temporary file that Django's storage moves into place (``file_move_safe``)."""

    def __init__(self, path: str) -> None:
        super().__init__(None, name=path)
        self._path = path

    def temporary_file_path(self) -> str:
        return self._path


class MediaStorage(FileSystemStorage):
    def _save(self, name, content):
        directory = os.path.dirname(self.path(name))
        os.makedirs(directory, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=directory, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in content.chunks():
                    out.write(chunk if isinstance(chunk, bytes) else chunk.encode())
            os.chmod(partial, self.file_permissions_mode or 0o644)
            return super()._save(name, _Complete(partial))
        finally:
            with contextlib.suppress(FileNotFoundError):  # moved into place, or not
                os.unlink(partial)
