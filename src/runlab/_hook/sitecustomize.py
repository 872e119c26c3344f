"""Start-up hook that ``runlab run`` puts on a Python child's path.

It records the flags an unmodified argparse script parsed into the run's
config, so the script needs no change to be tracked. Before the first parse,
the run's config (from ``-c`` and overrides) becomes the parser's defaults, so
the script sees those values; a flag given on the command line wins, and the
config records what the script actually used. Only the first parse of a process
is recorded, and not on distributed ranks other than 0 (``RANK``,
``LOCAL_RANK``), whose flags repeat rank 0's. Any ``sitecustomize`` module that
this one shadows is imported afterwards, so the user's own hook still runs.
"""

from __future__ import annotations

import os
import sys


def _install() -> None:
    import argparse

    original = argparse.ArgumentParser.parse_known_args
    recorded: list[bool] = []

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def]
        first = not recorded
        if first:
            # Only the first parse is the script's own command line; later ones
            # (sub-parsers, libraries) would clobber it.
            recorded.append(True)
            _offer_defaults(self)
        parsed = original(self, args, namespace)
        if first:
            _record(self, parsed[0])
        return parsed

    argparse.ArgumentParser.parse_known_args = parse_known_args  # type: ignore[method-assign]


def _offer_defaults(parser: object) -> None:
    try:
        from runlab.config import fill_parser_defaults
        from runlab.errors import ConfigError

        config = _run_config()
        fill_parser_defaults(parser, config)  # type: ignore[arg-type]
        _warn_unread_overrides(parser, config)
    except ConfigError as err:
        # As argparse itself answers a bad flag: usage, the message, exit 2.
        parser.error(f"runlab config: {err}")  # type: ignore[attr-defined]
    except Exception as err:  # the user's script must run whatever happens here
        print(f"runlab: could not apply the config to argparse: {err}", file=sys.stderr)


def _warn_unread_overrides(parser: object, config: dict[str, object]) -> None:
    """Say which overrides given without -c no flag of the script reads."""
    import json
    from pathlib import Path

    from runlab.config import loose_overrides, overrides_no_flag_reads

    try:
        meta = json.loads((Path(os.environ["RUNLAB_RUN_DIR"]) / "run.json").read_text())
    except (OSError, ValueError):
        return
    texts = loose_overrides(meta)
    if not texts:
        return
    unread = overrides_no_flag_reads(parser, config, list(texts))  # type: ignore[arg-type]
    for key, close in unread.items():
        hint = f"; did you mean '{close}'?" if close else "."
        print(
            f"runlab: override '{texts[key]}' matches no flag of the script{hint} "
            "The config records it, but the script does not see it.",
            file=sys.stderr,
        )


def _run_config() -> dict[str, object]:
    from pathlib import Path

    from runlab.config import load_config

    path = Path(os.environ["RUNLAB_RUN_DIR"]) / "config.yaml"
    return load_config(path) if path.exists() else {}


def _record(parser: object, namespace: object) -> None:
    if _is_other_rank():
        return
    try:
        from pathlib import Path

        from runlab.config import (
            dump_config,
            load_config,
            merge_config,
            namespace_to_config,
        )
        from runlab.store.files import locked

        folder = Path(os.environ["RUNLAB_RUN_DIR"])
        path = folder / "config.yaml"
        # Several Python processes of one run (a launcher and its workers) may
        # record at once; the folder lock keeps each update whole.
        with locked(folder):
            current = load_config(path) if path.exists() else {}
            flags = namespace_to_config(namespace, parser, current)  # type: ignore[arg-type]
            merged = merge_config(flags, current)
            if merged != current:
                dump_config(merged, path)
    except Exception as err:  # the user's script must run whatever happens here
        print(f"runlab: could not record argparse flags: {err}", file=sys.stderr)


def _is_other_rank() -> bool:
    # As runlab.run decides it, without importing it into every child.
    if os.environ.get("RUNLAB_ALL_RANKS") == "1":
        return False
    return any(os.environ.get(v) not in (None, "", "0") for v in ("RANK", "LOCAL_RANK"))


def _chain() -> None:
    # Import the sitecustomize this file shadows, if there is one.
    here = os.path.dirname(os.path.abspath(__file__))
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    # The import machinery expects to find this module under its name when
    # this file finishes, so put it back after looking for the other one.
    ours = sys.modules.pop("sitecustomize", None)
    try:
        import sitecustomize  # noqa: F401
    except ImportError:
        pass
    finally:
        sys.path[:] = saved
        if ours is not None:
            sys.modules["sitecustomize"] = ours


if os.environ.get("RUNLAB_RUN_DIR"):
    _install()
_chain()
