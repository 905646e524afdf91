"""Download corpora into a local cache, verified by SHA-256, atomically.

    cache_dir()/<dataset>/<file>              a verified download (renamed into place when complete)
    cache_dir()/<dataset>/<extract_to>/...    an archive's content (a directory renamed into place)

A file appears in the cache only once its bytes are all there and their SHA-256 matches; a bad
checksum, a short transfer or a broken connection raises DownloadError and leaves nothing behind.
Archives are unpacked only after the check, and a member that would land outside the target
directory (absolute path, `..`, link) is refused.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .._io import atomic_directory, atomic_path
from ..errors import DownloadError

CHUNK = 1 << 16


@dataclass(frozen=True)
class Resource:
    """One file to fetch: where from, what it must hash to, and what to do with it."""

    url: str
    sha256: str
    filename: str
    extract_to: str | None = None  # for a .zip / .tar.gz: the directory its content goes into


def cache_dir() -> Path:
    """`$LANGMODELS_HOME` if set, else `~/.cache/langmodels`."""
    home = os.environ.get("LANGMODELS_HOME")
    return Path(home) if home else Path.home() / ".cache" / "langmodels"


def fetch(resource: Resource, directory: Path, progress: bool | None = None) -> Path:
    """Download `resource` into `directory` unless a verified copy is there; return its path."""
    target = directory / resource.filename
    if not target.exists():
        created = not directory.exists()
        try:
            _download_verified(resource, target, progress)
        except BaseException:
            if created:  # leave the cache as it was
                shutil.rmtree(directory, ignore_errors=True)
            raise
    if resource.extract_to is None:
        return target
    out = directory / resource.extract_to
    if not out.exists():
        with atomic_directory(out) as tmp:
            extract(target, tmp)
    return out


def _download_verified(resource: Resource, target: Path, progress: bool | None) -> None:
    from tqdm.auto import tqdm  # imported here: only downloads need it

    digest = hashlib.sha256()
    try:
        with atomic_path(target) as tmp, urllib.request.urlopen(resource.url, timeout=60) as response:
            expected = response.headers.get("Content-Length")
            total = int(expected) if expected and expected.isdigit() else None
            show = sys.stderr.isatty() if progress is None else progress
            received = 0
            with open(tmp, "wb") as f, tqdm(total=total, unit="B", unit_scale=True, disable=not show,
                                            desc=resource.filename) as bar:
                while chunk := response.read(CHUNK):
                    f.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            if total is not None and received != total:
                raise DownloadError(f"{resource.url}: connection closed after {received} of {total} bytes; "
                                    "nothing was kept, try again")
            if digest.hexdigest() != resource.sha256:
                raise DownloadError(f"{resource.url}: SHA-256 {digest.hexdigest()} does not match the "
                                    f"expected {resource.sha256}; the file was not kept")
    except DownloadError:
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        raise DownloadError(
            f"{resource.url}: download failed ({e}); nothing was kept. Without network, put the "
            f"corpus files in a directory and load that directory instead"
        ) from None


def extract(archive: Path, dest: Path) -> None:
    """Unpack a .zip or .tar(.gz) archive into `dest`, refusing members that escape it."""
    name = archive.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                _check_member(archive, info.filename, dest)
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise DownloadError(f"{archive}: member {info.filename!r} is a link; refused")
            z.extractall(dest)
    elif name.endswith((".tar", ".tar.gz", ".tgz")):
        with tarfile.open(archive) as t:
            for member in t.getmembers():
                _check_member(archive, member.name, dest)
                if not (member.isfile() or member.isdir()):
                    raise DownloadError(f"{archive}: member {member.name!r} is not a plain file; refused")
            t.extractall(dest, filter="data")
    else:
        raise DownloadError(f"{archive}: unknown archive type (expected .zip, .tar, .tar.gz or .tgz)")


def _check_member(archive: Path, member: str, dest: Path) -> None:
    path = PurePosixPath(member.replace("\\", "/"))
    root = dest.resolve()
    inside = (root / path).resolve()
    if path.is_absolute() or ".." in path.parts or (inside != root and root not in inside.parents):
        raise DownloadError(f"{archive}: member {member!r} would be written outside {dest}; refused")
