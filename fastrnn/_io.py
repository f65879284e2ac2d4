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

An existing target that is a symbolic link is written through (its target file is replaced, the
link kept), as a shell's ``>`` does; one that is not a regular file (a pipe, a device, a
socket) is refused, ``overwrite`` or not: replacing ``/dev/null`` with a model is never meant.
"""

import io
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["as_path", "read_text", "read_lines", "decode_text", "atomic_write", "check_writable",
           "check_folder_writable", "new_file_mode", "not_regular", "write_target"]


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
        if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
            raise ValueError(f"{name}: the file is UTF-32; save it as UTF-8") from None
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


def not_regular(path):
    """A phrase for what ``path`` is when it exists but is not a regular file (following
    symbolic links): "a pipe", "a device", "a socket", "a directory"; else None."""
    import stat
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # missing (or a dangling link): nothing there to replace
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def write_target(path):
    """The file a write to ``path`` replaces: ``path``, or, for a symbolic link, the file it
    points to (resolved), so that the link is kept and its target updated."""
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _name_max(folder):
    """The longest file name (bytes) the folder's file system takes, None where the OS does
    not say (Windows: no pathconf; NTFS counts UTF-16 characters, not bytes)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):
        return None


def check_writable(path, what="output"):
    """Check that ``path`` can be written (created or replaced) before any work is done.

    Raises ``ValueError`` with a one-line message when ``path`` is a directory, when its folder
    does not exist or is not a folder, or when a file cannot be created in the folder (permission,
    read-only file system).  Nothing is left behind.
    """
    path = Path(path)
    kind = not_regular(path)
    if kind == "a directory":
        raise ValueError(f"cannot write {what} {path}: it is a directory")
    if kind is not None:
        raise ValueError(f"cannot write {what} {path}: it is {kind}, not a regular file")
    target = write_target(path)
    folder = _folder(target)
    if not folder.exists():
        raise ValueError(f"cannot write {what} {path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise ValueError(f"cannot write {what} {path}: {folder} is not a folder")
    limit = _name_max(folder)
    if limit is not None and len(os.fsencode(target.name)) > limit:
        raise ValueError(f"cannot write {what} {path}: the file name is longer than the "
                         f"{limit} bytes the file system allows")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ValueError(f"cannot write {what} {path}: folder {folder} is not writable "
                         f"({exc.strerror or exc})") from None
    if target.exists() and not os.access(target, os.W_OK):
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
    """Call ``write(fileobj)`` on a temporary file beside ``path``, then rename it to ``path``
    (a symbolic link: to the file it points to).

    The file is opened with ``mode`` (``"wb"`` or ``"w"``; text is UTF-8 with ``"\\n"`` line
    ends) and gets ``0o666 & ~umask`` permissions, as any new file.  On any error, the temporary
    file is removed and ``path`` is left as it was.  Returns ``path`` as a ``Path``.
    """
    path = Path(path)
    kind = not_regular(path)
    if kind is not None:  # an OSError, as every other failure to write here
        raise OSError(f"cannot write {path}: it is {kind}, not a regular file")
    target = write_target(path)
    folder = _folder(target)
    if not folder.exists():
        raise FileNotFoundError(f"cannot write {path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"cannot write {path}: {folder} is not a folder")
    try:  # a short name of its own: the target's name + a suffix could pass the length limit
        fd, tmp = tempfile.mkstemp(prefix=".fastrnn-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, new_file_mode())
        kw = {} if "b" in mode else {"encoding": "utf-8", "newline": "\n"}
        with os.fdopen(fd, mode, **kw) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and exc.errno is not None:  # name the target, not tmp
            raise type(exc)(exc.errno, f"cannot write {path}: {exc.strerror or exc}") from None
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
