"""Finding and reading the dataset files a user already has: minigrad never downloads.

Every reader names the files it expects and the folders it looked in, so a missing or
misplaced file is a one-line fix. Each file may also be gzip-compressed (`name.gz`).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Sequence
from pathlib import Path


def find_files(dataset: str, folders: Sequence[Path], names: Sequence[str]) -> list[Path]:
    """The path of each of `names` (or `name.gz`), from the first folder that has it.

    Raises:
        FileNotFoundError: listing the missing and expected file names and the folders searched.
    """
    found, missing = [], []
    for name in names:
        candidates = [folder / file for folder in folders for file in (name, name + ".gz")]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            missing.append(name)
        found.append(path)
    if missing:
        searched = ", ".join(str(f) for f in folders)
        raise FileNotFoundError(
            f"{dataset}: missing {', '.join(missing)} (each may also end in .gz). Expected the "
            f"files {', '.join(names)} in one of: {searched}. minigrad never downloads data: "
            "get the files yourself and pass the folder that holds them as root.")
    return found


def read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed if it ends in .gz; a ValueError naming a corrupt file."""
    raw = path.read_bytes()
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
        raise ValueError(f"{path}: not a valid gzip file ({e})") from None
