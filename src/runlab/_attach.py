"""What a script attached to ``runlab run`` writes into the wrapper's run folder.

The wrapper made the run; the script's ``start()`` merges its config into the
saved one, names the run after the script and records points it dropped. Each
write goes through the run folder's lock or an atomic JSON update, since other
processes of the same run (a launcher's workers) may write at the same time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runlab.store import layout
from runlab.store.store import Store

__all__ = [
    "check_loose_overrides",
    "fill_name",
    "merge_into_run_config",
    "record_loss",
]

logger = logging.getLogger(__name__)


def merge_into_run_config(
    path: Path, given: dict[str, Any], *, given_wins: bool = False
) -> dict[str, Any]:
    """Merge ``given`` into the run's saved config; return the result.

    By default the saved config (the wrapper's) wins and ``given`` only fills
    the keys it lacks. Under the run folder's lock: the start-up hook of another
    process of the same run (a launcher's worker) may be recording its flags.
    """
    from runlab.config import dump_config, load_config, merge_config
    from runlab.store.files import locked

    target = path / layout.CONFIG_FILE
    with locked(path):
        resolved = load_config(target) if target.exists() else {}
        primary, fallback = (given, resolved) if given_wins else (resolved, given)
        config = merge_config(primary, fallback)
        if config != resolved:
            dump_config(config, target)
    return config


def record_loss(path: Path, lost: Mapping[str, Any]) -> None:
    """Note in the wrapper's run.json that this process dropped points."""
    from runlab.store.files import update_json

    def change(meta: dict[str, Any]) -> None:
        # Of several attached processes, the first to record a loss keeps it.
        meta.setdefault("lost", dict(lost))

    try:
        update_json(path / layout.RUN_FILE, change, in_place_when_full=True)
    except (OSError, ValueError) as err:
        logger.debug("Could not record the loss in run %s: %s", path.name, err)


def check_loose_overrides(path: Path, given: Mapping[str, Any]) -> None:
    """Report overrides given without -c that name no key of the script's config.

    ``runlab run optim.lrr=0.5 -- python train.py`` cannot check the key when
    the wrapper starts: only the script knows its config. It can here.
    """
    from runlab.config import flatten_config, loose_overrides
    from runlab.store.files import read_json

    try:
        loose = loose_overrides(read_json(path / layout.RUN_FILE))
    except (OSError, ValueError):
        return
    if not loose or not given:
        return
    known = set(flatten_config(given))
    for key, text in loose.items():
        if key in known or any(k.startswith(f"{key}.") for k in known):
            continue
        import difflib

        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else "."
        logger.warning(
            "Override '%s' names no key of the script's config%s It was added as "
            "a new key; write +%s to say so.",
            text, hint, text,
        )  # fmt: skip


def fill_name(store: Store, path: Path, name: str) -> None:
    """Name the wrapper's run after the script, unless ``--name`` named it."""
    from runlab.store.files import update_json

    def change(meta: dict[str, Any]) -> None:
        if not meta.get("name"):
            meta["name"] = name

    update_json(path / layout.RUN_FILE, change)
    store.index_run(path.name)
