"""Figures read out of the results of one benchmark run, and how they are written.

Every figure is the median of the repetitions of that run; every ratio is
"this tool's figure / runlab's figure" from the same run (above 1: runlab is
cheaper or faster).
"""

from __future__ import annotations

from collections.abc import Callable
from statistics import median
from typing import Any

from registry import TOOLS

Row = list[str]
TIMEOUT = "stopped after"  # how a worker stopped at the cap is reported
LABELS = {key: tool.label for key, tool in TOOLS.items()}


def label(key: str) -> str:
    return LABELS.get(key, key)


def fmt(value: float | None, unit: str = "", digits: int = 3) -> str:
    if value is None:
        return "n/a"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.{digits}g}"
    return f"{text} {unit}".strip()


def ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return ""
    return f"{value / base:,.1f}x" if value / base >= 10 else f"{value / base:.2f}x"


def table(head: Row, rows: list[Row]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def ok_runs(runs: Any) -> list[dict[str, Any]]:
    return [r for r in runs or [] if isinstance(r, dict) and "error" not in r]


def med(runs: Any, get: Callable[[dict[str, Any]], float | None]) -> float | None:
    values = [v for v in (get(r) for r in ok_runs(runs)) if v is not None]
    return median(values) if values else None


def ordered(cells: dict[str, Any], results: dict[str, Any]) -> list[tuple[str, Any]]:
    """The cells of a table in the order of the tools on the command line."""
    order = {key: i for i, key in enumerate(results["meta"]["tools"])}
    return sorted(cells.items(), key=lambda item: order.get(item[0], len(order)))


def why(cell: Any) -> str:
    """Why a cell has no figure: its skip reason, the cap, or the first error."""
    if isinstance(cell, dict) and "skip" in cell:
        return str(cell["skip"])
    runs = cell if isinstance(cell, list) else []
    errors = [r["error"] for r in runs if isinstance(r, dict) and "error" in r]
    if not errors:
        return ""
    if errors[0].startswith(TIMEOUT):
        return f"{errors[0]}, the cap"
    return f"failed: {errors[0]}"


# Figures -----------------------------------------------------------------------


def us_per_point(results: dict[str, Any], shape: str, tool: str) -> float | None:
    runs = results.get("log", {}).get(shape, {}).get(tool)
    return med(runs, lambda r: r["loop_s"] / r["points"] * 1e6 if r["points"] else None)


def import_cost(results: dict[str, Any], row: str) -> tuple[float | None, float | None]:
    found = results.get("imports", {})
    if row not in found:
        return None, None
    bare = found["(bare interpreter)"]
    wall = median(found[row]["wall"]) - median(bare["wall"])
    rss = median(found[row]["rss"]) - median(bare["rss"])
    return wall * 1000, rss


def read_s(
    results: dict[str, Any], size: int, tool: str, key: str = "read_s"
) -> float | None:
    cell = results.get("read", {}).get(str(size), {}).get(tool, {})
    return med(cell.get("reads"), lambda r: r.get(key))


def query_s(results: dict[str, Any], tool: str, key: str) -> float | None:
    cell = results.get("runs", {}).get(tool, {})
    return med(cell.get("queries"), lambda r: r.get(key))


def start_s(results: dict[str, Any], tool: str) -> float | None:
    return med(results.get("start", {}).get(tool), lambda r: r.get("start_s"))


def peers(results: dict[str, Any]) -> list[str]:
    return [k for k in results["meta"]["tools"] if TOOLS[k].is_peer]


def best_peer(values: dict[str, float | None]) -> tuple[str | None, float | None]:
    known = {k: v for k, v in values.items() if v is not None}
    if not known:
        return None, None
    key = min(known, key=lambda k: known[k])
    return key, known[key]
