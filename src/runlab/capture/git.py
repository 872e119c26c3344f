"""Record the state of the code a run starts from: commit, branch, remote, changes.

:func:`capture_git` writes three files into the run's ``code/`` folder:

- ``git.json``: the facts it returns (see :func:`capture_git` for the keys),
  replaced atomically, so a reader never finds half of it;
- ``diff.patch``: uncommitted changes of tracked files against ``HEAD``, as
  ``git diff HEAD`` prints them. Binary files appear as "Binary files ... differ"
  lines and are never inlined. The patch is cut on a line boundary at
  ``max_patch_bytes``; ``patch_truncated`` says so and ``patch_bytes`` keeps the
  full size. A truncated patch no longer applies; it is kept for reading.
  ``patch_files`` lists every changed file (at most 10,000) with its ``status``
  (``M``, ``A``, ``D``, ``R``, ...), the ``bytes`` of its part of the full patch,
  whether that part is ``included`` whole in ``diff.patch``, and ``binary``. A
  file that is binary or left out also gets the ``size`` and ``sha256`` of its
  working-tree copy (None when deleted), so what the patch lacks can still be
  identified.
- ``untracked.txt``: untracked, non-ignored paths relative to the repository root,
  one a line, at most 10,000 of them. Their contents are never read.

The capture never raises for a problem of the environment (no ``git`` on the
path, not a repository, no commits, a slow or failing git command): it records
``available = False`` and a ``reason``, and logs at most one warning.
``available`` is true only when a commit could be read, so a repository without
commits has ``repo = True``, ``available = False`` and the reason "repository
has no commits"; its patch then holds every tracked (staged) file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from runlab import _json
from runlab._atomic import write_text_atomic

__all__ = ["capture_git", "read_git"]

logger = logging.getLogger(__name__)

GIT_FILE = "git.json"
PATCH_FILE = "diff.patch"
UNTRACKED_FILE = "untracked.txt"
MAX_UNTRACKED = 10_000

_CHUNK = 65536
# Schemes whose user part is a secret (a token or a password); for ssh the user
# name ("git@") is part of the address and only a password is dropped.
_SECRET_USER_SCHEMES = frozenset({"http", "https", "ftp", "ftps"})


class _GitFailed(Exception):
    """A git command could not run or failed; the message is the reason."""


def capture_git(
    cwd: str | os.PathLike[str],
    code_dir: str | os.PathLike[str],
    *,
    max_patch_bytes: int = 1_000_000,
    timeout: float = 10.0,
    exclude: Sequence[str | os.PathLike[str]] = (),
) -> dict[str, Any]:
    """Record the repository that holds ``cwd`` into ``code_dir``.

    Args:
        cwd: the folder the run starts in; any folder inside the work tree.
        code_dir: the folder to write ``git.json``, ``diff.patch`` and
            ``untracked.txt`` into; created if missing.
        max_patch_bytes: the most bytes of ``diff.patch`` kept.
        timeout: seconds each git command may take.
        exclude: folders left out of the untracked list and of ``dirty``, such
            as the experiment store itself when it lives in the work tree.

    Returns:
        A dict with the keys ``available``, ``reason``, ``repo``, ``root``,
        ``commit``, ``branch``, ``detached``, ``has_commits``, ``remote``,
        ``dirty``, ``patch_bytes``, ``patch_truncated``, ``patch_files`` and
        ``untracked_count``, all always present.

    Raises:
        OSError: ``code_dir`` cannot be created or written.
    """
    code = Path(code_dir)
    code.mkdir(parents=True, exist_ok=True)
    info = _empty_info()
    problems: list[str] = []
    patch, untracked = b"", b""
    try:
        patch, untracked = _inspect(
            Path(cwd), info, problems, max_patch_bytes, timeout, exclude
        )
    except _GitFailed as exc:
        problems.append(str(exc))
    if problems:
        info["reason"] = info["reason"] or problems[0]
        logger.warning(
            "Git state of %s was not fully recorded: %s.", cwd, "; ".join(problems)
        )

    (code / PATCH_FILE).write_bytes(patch)
    (code / UNTRACKED_FILE).write_bytes(untracked)
    # Written last and atomically: a run killed meanwhile has no git.json, not half.
    write_text_atomic(code / GIT_FILE, _json.dumps(info, indent=2) + "\n")
    return info


def read_git(code_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Return the facts :func:`capture_git` wrote into ``code_dir``, or None.

    None also stands for a ``git.json`` that cannot be read or parsed; a warning
    names the file.
    """
    path = Path(code_dir) / GIT_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        logger.warning("Cannot read %s: %s.", path, exc)
        return None
    try:
        value = _json.loads(text)
    except ValueError as exc:
        logger.warning("%s is not valid JSON (%s); ignoring it.", path, exc)
        return None
    return value if isinstance(value, dict) else None


def _empty_info() -> dict[str, Any]:
    return {
        "available": False,
        "reason": None,
        "repo": False,
        "root": None,
        "commit": None,
        "branch": None,
        "detached": False,
        "has_commits": False,
        "remote": None,
        "dirty": False,
        "patch_bytes": 0,
        "patch_truncated": False,
        "patch_files": [],
        "untracked_count": 0,
    }


def _inspect(
    cwd: Path,
    info: dict[str, Any],
    problems: list[str],
    max_patch_bytes: int,
    timeout: float,
    exclude: Sequence[str | os.PathLike[str]] = (),
) -> tuple[bytes, bytes]:
    """Fill ``info`` step by step; return the patch and the untracked list.

    A failed listing step appends to ``problems`` and keeps what it read, so one
    slow command does not lose the rest of the record.
    """
    if shutil.which("git") is None:
        info["reason"] = "git not found on PATH"
        logger.info("Git state not recorded: git not found on PATH.")
        return b"", b""
    root = _find_root(cwd, timeout)
    if root is None:
        info["reason"] = "not a git repository"
        logger.info("Git state not recorded: %s is not in a git repository.", cwd)
        return b"", b""
    info["repo"], info["root"] = True, str(root)

    _read_head(root, info, timeout)
    info["remote"] = _read_remote(root, timeout)
    base = info["commit"] or _empty_tree(root, timeout)
    sections = _PatchSections()
    patch, info["patch_bytes"], info["patch_truncated"] = _read_patch(
        root, base, max_patch_bytes, timeout, problems, sections
    )
    changed = _list_changed(root, base, timeout, problems)
    info["patch_files"] = _describe_files(root, changed, sections, len(patch))
    untracked, info["untracked_count"] = _read_untracked(
        root, timeout, problems, _exclusions(root, exclude)
    )
    info["dirty"] = info["patch_bytes"] > 0 or info["untracked_count"] > 0
    return patch, untracked


def _find_root(cwd: Path, timeout: float) -> Path | None:
    """Return the work-tree root holding ``cwd``, or None outside any repository."""
    proc = _git(cwd, ["rev-parse", "--show-toplevel"], timeout, check=False)
    if proc.returncode == 0:
        return Path(proc.stdout.decode("utf-8", "surrogateescape").strip())
    message = _first_line(proc.stderr)
    if "not a git repository" in message.lower():
        return None
    raise _GitFailed(message or f"git rev-parse failed in {cwd}")


def _read_head(root: Path, info: dict[str, Any], timeout: float) -> None:
    """Set commit, branch, detached and has_commits from HEAD."""
    head = _git(
        root, ["rev-parse", "-q", "--verify", "HEAD^{commit}"], timeout, check=False
    )
    if head.returncode == 0:
        info["commit"] = head.stdout.decode("ascii").strip()
        info["has_commits"] = info["available"] = True
    else:
        info["reason"] = "repository has no commits"
        logger.info("Git repository %s has no commits yet.", root)

    # symbolic-ref also names the unborn branch of a repository without commits.
    ref = _git(root, ["symbolic-ref", "-q", "--short", "HEAD"], timeout, check=False)
    if ref.returncode == 0:
        info["branch"] = ref.stdout.decode("utf-8", "replace").strip() or None
    else:
        info["detached"] = info["has_commits"]


def _read_remote(root: Path, timeout: float) -> str | None:
    proc = _git(root, ["remote", "get-url", "origin"], timeout, check=False)
    if proc.returncode != 0:
        return None
    url = proc.stdout.decode("utf-8", "replace").strip()
    return strip_credentials(url) if url else None


def strip_credentials(url: str) -> str:
    """Return ``url`` without the secrets in its user part.

    ``https://user:token@host/a.git`` becomes ``https://host/a.git``; an ssh URL
    keeps its user name and loses only a password; scp-like ``git@host:a/b`` has
    no scheme and is returned as is.
    """
    parts = urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return url
    userinfo, host = parts.netloc.rsplit("@", 1)
    if parts.scheme.lower() in _SECRET_USER_SCHEMES:
        netloc = host
    else:
        netloc = f"{userinfo.split(':', 1)[0]}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def _empty_tree(root: Path, timeout: float) -> str:
    """Return the id of the empty tree, the base to diff against before any commit."""
    # Asked of git rather than hard-coded, since SHA-256 repositories differ.
    proc = _git(root, ["hash-object", "-t", "tree", "--stdin"], timeout, stdin=b"")
    return proc.stdout.decode("ascii").strip()


def _read_patch(
    root: Path,
    base: str,
    max_bytes: int,
    timeout: float,
    problems: list[str],
    sections: _PatchSections,
) -> tuple[bytes, int, bool]:
    """Return the patch of tracked files against ``base``, its full size, and if cut.

    A patch that git could not finish is kept as far as it was read and counts as
    truncated.
    """
    # Fixed prefixes and no text conversion or external diff tools, whatever the
    # user's config says, so the patch is the same for everyone and applies with -p1.
    args = [
        "diff", base, "--no-color", "--no-ext-diff", "--no-textconv",
        "--src-prefix=a/", "--dst-prefix=b/", "--",
    ]  # fmt: skip
    head, total, error = _stream(root, args, max_bytes + 1, timeout, sections.feed)
    sections.close(total)
    if error:
        problems.append(error)
    if total <= max_bytes and not error:
        return head, total, False
    cut = head.rfind(b"\n", 0, max_bytes) + 1
    return head[:cut], total, True


class _PatchSections:
    """Finds, in a patch streamed past it, where each file's part starts and ends.

    A part starts at a ``diff --git`` line; a ``Binary files`` line marks it
    binary. Neither can start a line of a file's content, which a patch always
    prefixes with a space, ``+`` or ``-``. Only those lines are searched for, so
    a patch of hundreds of megabytes is scanned at the speed of ``re``.
    """

    _MARKER = re.compile(rb"\n(diff --git |Binary files )([^\n]*)(?=\n)")
    _LONGEST_LINE = 65536

    def __init__(self) -> None:
        # Each part: [header after "diff --git ", start, end, binary].
        self.parts: list[list[Any]] = []
        self._carry = b"\n"  # as if a line ended just before the patch
        self._seen = 0

    def feed(self, chunk: bytes) -> None:
        data = self._carry + chunk
        base = self._seen - len(self._carry)
        for match in self._MARKER.finditer(data):
            if match.group(1) == b"diff --git ":
                self.parts.append([match.group(2), base + match.start() + 1, 0, False])
            elif self.parts:
                self.parts[-1][3] = True
        self._seen += len(chunk)
        # Keep the last, unfinished line for the next chunk; a line longer than
        # any header is content and need not be kept (that would cost quadratic time).
        tail = data.rfind(b"\n")
        short = tail >= 0 and len(data) - tail <= self._LONGEST_LINE
        self._carry = data[tail:] if short else b"x"

    def close(self, total: int) -> None:
        """Set each part's end, the stream having ``total`` bytes."""
        for part, after in zip(self.parts, [*self.parts[1:], None], strict=False):
            part[2] = after[1] if after else total


_C_ESCAPES = {7: b"\\a", 8: b"\\b", 9: b"\\t", 10: b"\\n", 11: b"\\v",
              12: b"\\f", 13: b"\\r", 34: b'\\"', 92: b"\\\\"}  # fmt: skip


def _git_quoted(path: bytes, *, high: bool) -> bytes:
    """Spell ``path`` as git's patch headers do; ``high``: escape non-ASCII too.

    core.quotePath (on by default) decides whether git escapes bytes from 0x80.
    """

    def needs(byte: int) -> bool:
        return byte < 0x20 or byte in (34, 92) or byte == 0x7F or (high and byte > 0x7F)

    if not any(needs(byte) for byte in path):
        return path
    out = b"".join(
        _C_ESCAPES.get(b) or (b"\\%03o" % b if needs(b) else bytes([b])) for b in path
    )
    return b'"' + out + b'"'


def _list_changed(
    root: Path, base: str, timeout: float, problems: list[str]
) -> list[tuple[str, bytes, bytes]]:
    """Return (status, old path, path) of each changed tracked file, as in the patch."""
    args = ["diff", base, "--name-status", "-z", "--no-ext-diff", "--"]
    listing, _, error = _stream(root, args, None, timeout)
    if error:
        problems.append(error)
        return []
    words = listing.split(b"\0")
    changed = []
    at = 0
    while at + 1 < len(words) and words[at]:
        status = words[at].decode("ascii", "replace")
        renamed = status[:1] in ("R", "C")
        old, path = words[at + 1], words[at + 2 if renamed else at + 1]
        changed.append((status[:1], old, path))
        at += 3 if renamed else 2
    return changed


def _describe_files(
    root: Path,
    changed: list[tuple[str, bytes, bytes]],
    sections: _PatchSections,
    kept: int,
) -> list[dict[str, Any]]:
    """One entry per changed file: its part of the patch, and whether it was kept."""
    parts: dict[bytes, list[list[Any]]] = {}
    for part in sections.parts:
        parts.setdefault(part[0], []).append(part)
    files = []
    for status, old, path in changed[:MAX_UNTRACKED]:
        # A type change (file to link) is two parts under one header.
        mine = _parts_of(parts, old, path)
        entry: dict[str, Any] = {
            "path": path.decode("utf-8", "surrogateescape"),
            "status": status,
            "bytes": sum(p[2] - p[1] for p in mine) if mine else None,
            "included": bool(mine) and all(p[2] <= kept for p in mine),
            "binary": any(p[3] for p in mine),
        }
        if old != path:
            entry["old_path"] = old.decode("utf-8", "surrogateescape")
        if entry["binary"] or not entry["included"]:
            entry.update(_fingerprint(root / os.fsdecode(path)))
        files.append(entry)
    return files


def _parts_of(
    parts: dict[bytes, list[list[Any]]], old: bytes, path: bytes
) -> list[list[Any]]:
    for high in (True, False):
        header = (
            _git_quoted(b"a/" + old, high=high)
            + b" "
            + _git_quoted(b"b/" + path, high=high)
        )
        if header in parts:
            return parts[header]
    return []


def _fingerprint(path: Path) -> dict[str, Any]:
    """Size and SHA-256 of a working-tree file; None for both when it is gone.

    A symbolic link is measured as git stores it: the text of its target.
    """
    digest = hashlib.sha256()
    try:
        if path.is_symlink():
            target = os.fsencode(os.readlink(path))
            return {"size": len(target), "sha256": hashlib.sha256(target).hexdigest()}
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            while block := file.read(1 << 20):
                digest.update(block)
    except OSError:
        return {"size": None, "sha256": None}
    return {"size": size, "sha256": digest.hexdigest()}


def _exclusions(root: Path, folders: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Git pathspecs leaving out each of ``folders`` that lies inside ``root``."""
    specs = []
    for folder in folders:
        try:
            inside = Path(folder).resolve().relative_to(root.resolve())
        except ValueError:
            continue
        if inside.parts:
            specs.append(f":(exclude){inside.as_posix()}")
    return specs


def _read_untracked(
    root: Path, timeout: float, problems: list[str], exclude: Sequence[str] = ()
) -> tuple[bytes, int]:
    """Return the untracked paths (capped, one a line) and how many there are."""
    args = ["ls-files", "-z", "--others", "--exclude-standard"]
    if exclude:
        args += ["--", ".", *exclude]
    listing, _, error = _stream(root, args, None, timeout)
    if error:
        problems.append(error)
    paths = [p for p in listing.split(b"\0") if p]
    if error and paths:
        paths.pop()  # the last name may have been cut mid-way
    # A newline inside a file name would split the list; such paths are dropped.
    kept = [p for p in paths[:MAX_UNTRACKED] if b"\n" not in p]
    text = b"".join(p + b"\n" for p in kept)
    return text, len(paths)


def _stream(
    root: Path,
    args: list[str],
    keep: int | None,
    timeout: float,
    watch: Callable[[bytes], None] | None = None,
) -> tuple[bytes, int, str | None]:
    """Run git, keep the first ``keep`` bytes of its output, and count them all.

    Streaming keeps memory flat when a patch runs to hundreds of megabytes;
    ``watch`` sees every chunk, kept or not.

    Returns:
        The kept bytes, the total byte count, and why git failed (None if it
        did not).
    """
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(
                ["git", "-C", str(root), *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                env=_git_env(),
            )
        except OSError as exc:
            return b"", 0, f"git could not be started ({exc})"
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            head, total = _drain(proc, keep, watch)
        finally:
            timer.cancel()
            returncode = proc.wait()
        if returncode == 0:
            return head, total, None
        err.seek(0)
        detail = _first_line(err.read()) or f"exit code {returncode}"
    return head, total, f"git {args[0]} failed or took over {timeout:g} s ({detail})"


def _drain(
    proc: subprocess.Popen[bytes],
    keep: int | None,
    watch: Callable[[bytes], None] | None = None,
) -> tuple[bytes, int]:
    assert proc.stdout is not None
    chunks: list[bytes] = []
    kept = total = 0
    with proc.stdout:
        while chunk := os.read(proc.stdout.fileno(), _CHUNK):
            total += len(chunk)
            if watch is not None:
                watch(chunk)
            if keep is None or kept < keep:
                chunks.append(chunk)
                kept += len(chunk)
    data = b"".join(chunks)
    return (data if keep is None else data[:keep]), total


def _git(
    cwd: Path,
    args: list[str],
    timeout: float,
    *,
    check: bool = True,
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run one short git command; raise :class:`_GitFailed` if it cannot run."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(cwd), *args],
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            env=_git_env(),
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise _GitFailed(f"git {args[0]} took over {timeout:g} s") from exc
    except OSError as exc:
        raise _GitFailed(f"git could not be started ({exc})") from exc
    if check and proc.returncode != 0:
        raise _GitFailed(_first_line(proc.stderr) or f"git {args[0]} failed")
    return proc


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    # Never wait for a password prompt, and never take index.lock: the user may
    # be running git in the same repository while the run starts.
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_OPTIONAL_LOCKS"] = "0"
    return env


def _first_line(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    line = text.splitlines()[0] if text else ""
    return line.removeprefix("fatal: ").removeprefix("error: ").strip()
