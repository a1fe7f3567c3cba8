"""Files the workbench keeps: where a stored path may point, and who may read what it writes.

Every path the database holds for a job's files (artifacts, videos, thumbnails, captions) must
resolve inside the data directory's ``jobs/`` folder, after ``..``, symlinks and absolute paths
are taken into account. Restore refuses a backup with any other, and the Library re-checks each
path before it reads or offers a file, so a crafted row can never expose ``/etc/passwd`` or a
channel token. The database, backups and snapshots are readable by their owner only.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

OWNER_DIR = stat.S_IRWXU  # 0700
OWNER_FILE = stat.S_IRUSR | stat.S_IWUSR  # 0600


class UnsafePath(ValueError):
    """A stored path that points outside the folder it must stay in."""


def inside(path: str | os.PathLike | None, root: Path) -> Path | None:
    """``path`` resolved (symlinks followed, relative to ``root``'s parent data dir when relative)
    when it lies inside ``root``; None otherwise (or when there is no path)."""
    if path is None or str(path).strip() == "" or "\x00" in str(path):
        return None
    root = Path(root).resolve()
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = root.parent / candidate
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError):  # a symlink loop, an unreadable component
        return None
    return resolved if resolved == root or root in resolved.parents else None


def locate(path: str | os.PathLike | None, jobs_dir: Path, job_id: int | None = None) -> tuple[Path | None, bool]:
    """(the job's file, or None; whether the path points outside jobs/).

    The file is returned only when it is an existing regular file inside jobs/. With ``job_id``, a
    path recorded under another data directory (one that was moved or copied) is looked for at the
    same place under this one, ``jobs/<job_id>/...``, and must still resolve inside jobs/, so a ".."
    or a symlink out is refused there too."""
    if not path:
        return None, False
    found = inside(path, jobs_dir)
    if found is None and job_id is not None:
        parts = Path(path).parts
        marks = [i for i in range(len(parts) - 1) if parts[i] == "jobs" and parts[i + 1] == str(job_id)]
        if marks:
            found = inside(Path(*parts[marks[-1]:]), jobs_dir)
    if found is None:
        return None, True
    if found == Path(jobs_dir).resolve() or not found.is_file():
        return None, False
    return found, False


def job_file(path: str | os.PathLike | None, jobs_dir: Path, job_id: int | None = None) -> Path | None:
    """A job's file that may be read or offered for download (see :func:`locate`), or None."""
    return locate(path, jobs_dir, job_id)[0]


def private_dir(path: Path) -> Path:
    """Create (if needed) a folder only its owner can enter."""
    path.mkdir(parents=True, exist_ok=True)
    _chmod(path, OWNER_DIR)
    return path


def private_file(path: Path) -> Path:
    """Make an existing file readable and writable by its owner only."""
    _chmod(path, OWNER_FILE)
    return path


def _chmod(path: Path, mode: int) -> None:
    try:
        if stat.S_IMODE(path.stat().st_mode) != mode:
            path.chmod(mode)
    except PermissionError:  # not ours (a shared folder the operator chose): leave it, never fail on it
        pass
