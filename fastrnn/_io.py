"""File safety in one place: the one text reader and the one atomic writer of the package.

- :func:`read_text` decodes a whole file as UTF-8 (a byte order mark is dropped) and turns every
  way that can fail (no such file, a directory, not UTF-8, UTF-16) into a one-line error naming
  the file and the line.  The data loaders, the CLI's ``predict --file`` and the sweep config all
  read through it.
- :func:`atomic_write` writes a temporary file beside the target and renames it over the target,
  so a failure never leaves a half-written file; the new file gets the permissions any other new
  file gets (``0o666`` minus the umask), not ``mkstemp``'s private ``0o600``.
- :func:`check_writable` proves, before any work is done, that a file can be created in the
  target's folder.
"""

import io
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["as_path", "read_text", "read_lines", "decode_text", "atomic_write", "check_writable", "check_folder_writable", "new_file_mode"]


def as_path(path) -> Path:
    """``Path(path)``; ``TypeError`` naming the argument unless it is a str or os.PathLike."""
    if isinstance(path, (bytes, bytearray)) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    return Path(path)


def decode_text(data, name):
    """``data`` (bytes) decoded as UTF-8 (an initial BOM dropped); ``ValueError`` naming ``name``."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise ValueError(f"{name}: the file is UTF-16; save it as UTF-8") from None
        line = data.count(b"\n", 0, exc.start) + 1
        raise ValueError(
            f"{name}: line {line}: not valid UTF-8 (byte 0x{data[exc.start]:02x}); "
            "save the file as UTF-8"
        ) from None


def read_text(path, what="data file"):
    """The whole file at ``path`` decoded as UTF-8.

    Raises ``FileNotFoundError`` (no such file), ``ValueError`` (a directory, not UTF-8, UTF-16)
    or ``OSError`` (unreadable), each with a one-line message that names the file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a directory, not a {what}") from None
    except PermissionError:
        raise PermissionError(f"{path}: permission denied") from None
    except OSError as exc:
        raise OSError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return decode_text(data, path)


def _umask():
    """The process umask, read without changing it where the OS allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no way to read it without setting it: restore at once
    os.umask(mask)
    return mask


def new_file_mode():
    """The permission bits a newly created regular file gets: ``0o666 & ~umask``."""
    return 0o666 & ~_umask()


def _folder(path):
    return path.parent if str(path.parent) else Path(".")


def check_writable(path, what="output"):
    """Check that ``path`` can be written (created or replaced) before any work is done.

    Raises ``ValueError`` with a one-line message when ``path`` is a directory, when its folder
    does not exist or is not a folder, or when a file cannot be created in the folder (permission,
    read-only file system).  Nothing is left behind.
    """
    path = Path(path)
    folder = _folder(path)
    if path.is_dir():
        raise ValueError(f"cannot write {what} {path}: it is a directory")
    if not folder.exists():
        raise ValueError(f"cannot write {what} {path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise ValueError(f"cannot write {what} {path}: {folder} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ValueError(f"cannot write {what} {path}: folder {folder} is not writable "
                         f"({exc.strerror or exc})") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"cannot write {what} {path}: the file is read-only")
    return path


def check_folder_writable(folder, what="output folder"):
    """Check that files can be created in ``folder`` (made with its parents if missing).

    ``ValueError`` with a one-line message when ``folder`` or its nearest existing ancestor is
    not a folder or cannot be written.  Nothing is created.
    """
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"cannot use {what} {folder}: {existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise ValueError(f"cannot use {what} {folder}: folder {existing} is not writable "
                         f"({exc.strerror or exc})") from None
    return folder


def atomic_write(path, write, mode="wb"):
    """Call ``write(fileobj)`` on a temporary file beside ``path``, then rename it to ``path``.

    The file is opened with ``mode`` (``"wb"`` or ``"w"``; text is UTF-8 with ``"\\n"`` line
    ends) and gets ``0o666 & ~umask`` permissions, as any new file.  On any error, the temporary
    file is removed and ``path`` is left as it was.  Returns ``path`` as a ``Path``.
    """
    path = Path(path)
    folder = _folder(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=folder)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, new_file_mode())
        kw = {} if "b" in mode else {"encoding": "utf-8", "newline": "\n"}
        with os.fdopen(fd, mode, **kw) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def _is_stdin(path):
    return str(path) == "-"


def read_lines(path):
    """The lines of a UTF-8 text file (``"-"``: standard input), without their line ends."""
    if _is_stdin(path):
        stream = getattr(sys.stdin, "buffer", None)
        data = stream.read() if stream is not None else sys.stdin.read().encode("utf-8")
        text = decode_text(data, "standard input")
    else:
        text = read_text(path, what="text file")
    # universal newlines (\n, \r\n, \r) as text-mode files read them, not str.splitlines,
    # which would also split on U+2028, U+0085 and form feeds inside a text.
    return [line.rstrip("\r\n") for line in io.StringIO(text, newline=None)]
