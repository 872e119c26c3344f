"""Sweeps: many configs of one command, each trial a tracked run (docs/sweeps.md)."""

from __future__ import annotations
