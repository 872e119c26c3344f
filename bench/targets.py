"""The targets of the benchmark issue, each with its figure from one run."""

from __future__ import annotations

from statistics import median
from typing import Any

from figures import (
    best_peer,
    fmt,
    import_cost,
    label,
    med,
    peers,
    query_s,
    ratio,
    read_s,
    start_s,
    us_per_point,
)

Target = tuple[str, str, bool | None]


def target_rows(results: dict[str, Any]) -> list[Target]:
    """(target, figure, met) for each target of the issue; met is None if unmeasured."""
    rows: list[Target] = []
    for shape, words in (
        ("narrow", "1 scalar per call"),
        ("wide", "10 scalars per call"),
    ):
        mine, floor = (
            us_per_point(results, shape, "runlab"),
            us_per_point(results, shape, "list"),
        )
        peer, cheapest = best_peer(
            {p: us_per_point(results, shape, p) for p in peers(results)}
        )
        rows.append(
            (
                f"log(), {words}: at most 2x the list floor per point",
                f"{fmt(mine, 'µs')} vs {fmt(floor, 'µs')}: {ratio(mine, floor)}",
                None if mine is None or floor is None else mine <= 2 * floor,
            )
        )
        rows.append(
            (
                f"log(), {words}: at least 20x cheaper than the cheapest peer",
                f"{label(peer)} {fmt(cheapest, 'µs')}: {ratio(cheapest, mine)}"
                if peer
                else "no peer measured",
                None if mine is None or cheapest is None else cheapest >= 20 * mine,
            )
        )
    rows += memory_targets(results)
    rows += startup_targets(results)
    rows += storage_targets(results)
    return rows


def memory_targets(results: dict[str, Any]) -> list[Target]:
    rows: list[Target] = []
    memory = results.get("memory", {})
    wide = memory.get("wide", {}).get("runlab", {})
    if "points" in wide:
        rate = wide["points"] / (wide["loop_s"] + wide["finish_s"])
        rows.append(
            (
                "the background writer keeps up with 1,000,000 points a second",
                f"{rate:,.0f} points/s end to end ({wide['points']:,} points logged 10 per "
                f"call, finish {fmt(wide['finish_s'], 's')})",
                rate >= 1e6,
            )
        )
    for shape in ("narrow", "wide"):
        cell = memory.get(shape, {}).get("runlab", {})
        if "added_mb" in cell:
            rows.append(
                (
                    f"logging {cell['points']:,} points ({shape}) adds at most 100 MB",
                    f"{cell['added_mb']:.0f} MB (peak RSS {cell['peak_mb']:.0f} MB)",
                    cell["added_mb"] <= 100,
                )
            )
    flush = med(results.get("flush", {}).get("runlab"), lambda r: r["finish_s"])
    loop = med(results.get("flush", {}).get("runlab"), lambda r: r["loop_s"])
    if flush is not None:
        points = results["meta"]["scale"]["flush_points"]
        rows.append(
            (
                f"finish() flushes {points:,} buffered points in under 0.5 s",
                f"{fmt(flush, 's')} (the points logged in {fmt(loop, 's')}, before the "
                "writer's first drain)",
                flush < 0.5,
            )
        )
    return rows


def startup_targets(results: dict[str, Any]) -> list[Target]:
    wall, rss = import_cost(results, "runlab")
    helps = results.get("help", {}).get("runlab", {}).get("wall")
    help_s = median(helps) if helps else None
    mine = start_s(results, "runlab")
    peer_starts = {p: start_s(results, p) for p in peers(results)}
    known = [v for v in peer_starts.values() if v is not None]
    return [
        (
            "import runlab: under 50 ms",
            f"{fmt(wall, 'ms')} over a bare interpreter",
            None if wall is None else wall < 50,
        ),
        (
            "import runlab: under 25 MB",
            f"{fmt(rss, 'MB')} peak RSS over a bare interpreter",
            None if rss is None else rss < 25,
        ),
        (
            "runlab --help: under 150 ms",
            f"{fmt(help_s and help_s * 1000, 'ms')} (whole process)",
            None if help_s is None else help_s < 0.15,
        ),
        (
            "runlab.start() in a git repository: under 50 ms",
            f"{fmt(mine and mine * 1000, 'ms')}"
            + (
                f"; peers' first run {fmt(min(known), 's')} to {fmt(max(known), 's')}"
                if known
                else ""
            ),
            None if mine is None else mine < 0.05,
        ),
    ]


def storage_targets(results: dict[str, Any]) -> list[Target]:
    rows: list[Target] = []
    series = med(
        results.get("log", {}).get("narrow", {}).get("runlab"),
        lambda r: r["series_bytes"] / r["points"],
    )
    rows.append(
        (
            "disk: at most 24 bytes per point",
            f"{fmt(series, 'bytes')} per point",
            None if series is None else series <= 24,
        )
    )
    sizes = sorted(int(s) for s in results.get("read", {}))
    if sizes:
        big = read_s(results, sizes[-1], "runlab")
        rows.append(
            (
                f"reading {sizes[-1]:,} points in a fresh process: under 50 ms",
                f"{fmt(big and big * 1000, 'ms')} (the read; the whole process "
                f"{fmt(read_s(results, sizes[-1], 'runlab', 'process_s'), 's')})",
                None if big is None else big < 0.05,
            )
        )
        small = read_s(results, sizes[0], "runlab")
        peer, fastest = best_peer(
            {p: read_s(results, sizes[0], p) for p in peers(results)}
        )
        rows.append(
            (
                f"reading {sizes[0]:,} points: at least 100x faster than the fastest peer",
                f"{label(peer)} {fmt(fastest, 's')}: {ratio(fastest, small)}"
                if peer
                else "no peer measured",
                None if small is None or fastest is None else fastest >= 100 * small,
            )
        )
    rows += runs_targets(results)
    return rows


def runs_targets(results: dict[str, Any]) -> list[Target]:
    rows: list[Target] = []
    runs = results["meta"]["scale"]["runs"]
    for key, words in (
        ("filter_s", "filtering on a config value"),
        ("last_s", "reading the last value of a metric"),
    ):
        mine = query_s(results, "runlab", key)
        rows.append(
            (
                f"{runs} runs, {words}: under 10 ms",
                fmt(mine and mine * 1000, "ms"),
                None if mine is None else mine < 0.01,
            )
        )
    many = results.get("many", {}).get("runlab", {})
    count = results["meta"]["scale"]["many_runs"]
    for key, words, limit in (
        ("ls", "`runlab ls FILTER --sort KEY`", 0.5),
        ("reindex", "`runlab reindex`", 30.0),
    ):
        walls = many.get(key)
        value = median(walls) if walls else None
        rows.append(
            (
                f"{count:,} runs, {words}: under {limit:g} s",
                fmt(value, "s"),
                None if value is None else value < limit,
            )
        )
    foot = results.get("footprint", {}).get("runlab")
    if foot is not None:
        clean = not (
            foot["processes"] or foot["lock_files"] or foot["outside"] or foot["repo"]
        )
        rows.append(
            (
                "footprint: no helper processes, no lock files, nothing outside the store",
                footprint_words(foot),
                clean,
            )
        )
    return rows


def footprint_words(foot: dict[str, Any]) -> str:
    parts = [
        f"{len(foot['processes'])} helper processes",
        f"{len(foot['lock_files'])} lock/temporary files",
        f"{len(foot['outside'])} files outside the store",
    ]
    if foot["repo"]:
        parts.append("changed the git repository")
    return ", ".join(parts)
