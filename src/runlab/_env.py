"""Settings read from environment variables, forgiving of bad values.

| variable | meaning | default |
| --- | --- | --- |
| RUNLAB_DIR | the store folder | ``experiments/`` at the git top, else ``./experiments`` |
| RUNLAB_HEARTBEAT_S | seconds between heartbeats of a running run | 10 |
| RUNLAB_SYSTEM_METRICS | ``0`` turns off the ``sys/...`` metrics | 1 |
| RUNLAB_SYSTEM_INTERVAL_S | seconds between system samples | 5 (at least 0.5) |
| RUNLAB_ALL_RANKS | ``1`` tracks every distributed rank, not only rank 0 | 0 |

A value that is not a number is reported once as a warning and the default
used: a typo in a setting must not stop a training job.
"""

from __future__ import annotations

import logging
import os

__all__ = ["seconds_from_env"]

logger = logging.getLogger(__name__)


def seconds_from_env(name: str, default: float, minimum: float) -> float:
    """Read a duration in seconds from ``name``; clamp it to ``minimum``."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        logger.warning(
            "%s=%r is not a number of seconds; using %s.", name, text, default
        )
        return default
    if not value >= minimum:  # also catches NaN
        logger.warning("%s=%s is below %s s; using %s.", name, text, minimum, minimum)
        return minimum
    return value
