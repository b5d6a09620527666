"""Archives and the paths params.yaml names: a zip unpacked safely (nothing lands outside the
folder it is unpacked into), a dataset given as an archive or its folder, a relative path read
from the repository's root."""

from __future__ import annotations

import contextlib
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath


class SourceError(RuntimeError):
    """The raw data cannot be had from the chosen source; the message says what to do instead."""


def safe_extract(archive: Path, dest: Path) -> None:
    """Unzip, refusing members that would land outside `dest` (absolute paths, `..`, links)."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        raise SourceError(f"{archive}: not a readable zip archive ({e})") from None
    with zf:
        for info in zf.infolist():
            name = PurePosixPath(info.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts or (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise SourceError(f"{archive}: member {info.filename!r} would escape the extraction folder; refusing the archive")
        bad = zf.testzip()
        if bad is not None:
            raise SourceError(f"{archive}: member {bad!r} is corrupt (CRC mismatch)")
        zf.extractall(dest)


@contextlib.contextmanager
def unpacked(data: Path) -> Iterator[Path]:
    """A dataset given as a Kaggle archive or its unpacked folder, as a folder for the `with` block
    (an archive is extracted, safely, into a temporary one)."""
    if not data.is_file():
        yield data
        return
    with tempfile.TemporaryDirectory(prefix="handsign-unpacked-") as tmp:
        safe_extract(data, Path(tmp) / "raw")
        yield Path(tmp) / "raw"


def resolve_path(path: str, root: Path) -> Path:
    """A `local_path` as written in params.yaml: relative paths are relative to the repository root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (root / p).resolve()
