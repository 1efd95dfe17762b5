"""Summaries and tables of the benchmark measurements.

Figures are compared by their **minimum** over alternating rounds (the least
disturbed run on a shared machine) and reported with the **median** beside it.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from .delivery import DeliveryResult
from .hotpath import HotPathReport
from .memory import MemoryMeasurement
from .overhead import Measurement

MIB = 2**20


def summarize_overhead(measurements: Sequence[Measurement]) -> list[dict[str, Any]]:
    """One row per (kind, workload, configuration): minima, medians, ratios to ``none``."""
    groups: dict[tuple[str, str, str], list[Measurement]] = defaultdict(list)
    for measurement in measurements:
        groups[(measurement.kind, measurement.workload, measurement.config)].append(measurement)
    rows: list[dict[str, Any]] = []
    for (kind, workload, config), runs in groups.items():
        walls = [run.wall for run in runs]
        rows.append({
            "kind": kind, "workload": workload, "config": config, "tasks": runs[0].tasks,
            "runs": len(runs),
            "wall_min": min(walls), "wall_median": statistics.median(walls),
            "sched_cpu_min": min(run.sched_cpu for run in runs),
            "sched_cpu_median": statistics.median(run.sched_cpu for run in runs),
            "total_cpu_min": min(run.sched_cpu + run.worker_cpu for run in runs),
            "total_cpu_median": statistics.median(run.sched_cpu + run.worker_cpu for run in runs),
            "sched_export_cpu_median": statistics.median(run.sched_export_cpu for run in runs),
            "worker_cpu_median": statistics.median(run.worker_cpu for run in runs),
            "worker_export_cpu_median": statistics.median(run.worker_export_cpu for run in runs),
            "sched_peak_rss_median": statistics.median(run.sched_peak_rss for run in runs),
            "worker_peak_rss_median": statistics.median(run.worker_peak_rss for run in runs),
        })
    baseline = {(row["kind"], row["workload"]): row for row in rows if row["config"] == "none"}
    for row in rows:
        base = baseline.get((row["kind"], row["workload"]))
        if base is None:
            continue
        row["wall_ratio_min"] = row["wall_min"] / base["wall_min"]
        row["wall_ratio_median"] = row["wall_median"] / base["wall_median"]
        row["sched_cpu_ratio_min"] = row["sched_cpu_min"] / base["sched_cpu_min"]
        row["total_cpu_ratio_min"] = row["total_cpu_min"] / base["total_cpu_min"]
        row["total_cpu_ratio_median"] = row["total_cpu_median"] / base["total_cpu_median"]
        row["sched_cpu_us_per_task"] = (
            (row["sched_cpu_min"] - base["sched_cpu_min"]) / row["tasks"] * 1e6)
    return rows


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    rows = [list(headers), *[list(row) for row in rows]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]
    lines = ["  ".join(cell.rjust(width) if i else cell.ljust(width)
                       for i, (cell, width) in enumerate(zip(row, widths, strict=True))) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _ratio(row: dict[str, Any], key: str) -> str:
    return f"{row[key]:.3f}" if key in row else "-"


def overhead_table(rows: Sequence[dict[str, Any]]) -> str:
    return _table(
        ["kind", "workload", "config", "tasks", "wall min s", "wall med s", "ratio min",
         "ratio med", "sched CPU min s", "CPU ratio", "+µs/task", "total CPU min s",
         "total CPU ratio min", "total CPU ratio med", "sched export s",
         "workers export s", "sched peak MiB", "worker peak MiB"],
        [[row["kind"], row["workload"], row["config"], f"{row['tasks']:,}",
          f"{row['wall_min']:.2f}", f"{row['wall_median']:.2f}",
          _ratio(row, "wall_ratio_min"), _ratio(row, "wall_ratio_median"),
          f"{row['sched_cpu_min']:.2f}", _ratio(row, "sched_cpu_ratio_min"),
          f"{row['sched_cpu_us_per_task']:.0f}" if "sched_cpu_us_per_task" in row else "-",
          f"{row['total_cpu_min']:.2f}", _ratio(row, "total_cpu_ratio_min"),
          _ratio(row, "total_cpu_ratio_median"),
          f"{row['sched_export_cpu_median']:.2f}", f"{row['worker_export_cpu_median']:.2f}",
          f"{row['sched_peak_rss_median'] / MIB:.0f}",
          f"{row['worker_peak_rss_median'] / MIB:.0f}"] for row in rows],
    )


def summarize_memory(measurements: Sequence[MemoryMeasurement]) -> dict[str, Any]:
    by_config: dict[str, list[MemoryMeasurement]] = defaultdict(list)
    for measurement in measurements:
        by_config[measurement.config].append(measurement)
    summary: dict[str, Any] = {
        config: {
            "tasks": runs[0].tasks,
            "growth_min": min(run.growth for run in runs),
            "growth_median": statistics.median(run.growth for run in runs),
            "baseline_median": statistics.median(run.baseline_rss for run in runs),
            "peak_median": statistics.median(run.peak_rss for run in runs),
            "after_median": statistics.median(run.after_rss for run in runs),
            "wall_median": statistics.median(run.wall for run in runs),
        }
        for config, runs in by_config.items()
    }
    if "none" in summary:
        for row in summary.values():
            row["tracing_growth_min"] = row["growth_min"] - summary["none"]["growth_min"]
            row["tracing_growth_median"] = row["growth_median"] - summary["none"]["growth_median"]
    return summary


def memory_table(summary: dict[str, Any]) -> str:
    return _table(
        ["config", "tasks", "baseline MiB", "peak MiB", "after MiB", "growth min MiB",
         "growth med MiB", "tracing adds (min) MiB", "tracing adds (med) MiB"],
        [[config, f"{row['tasks']:,}", f"{row['baseline_median'] / MIB:.0f}",
          f"{row['peak_median'] / MIB:.0f}", f"{row['after_median'] / MIB:.0f}",
          f"{row['growth_min'] / MIB:.0f}", f"{row['growth_median'] / MIB:.0f}",
          f"{row.get('tracing_growth_min', 0) / MIB:.0f}",
          f"{row.get('tracing_growth_median', 0) / MIB:.0f}"] for config, row in summary.items()],
    )


def delivery_table(result: DeliveryResult) -> str:
    kinds = [kind for kind in result.expected if kind != "total"] + ["total"]
    extra = sorted(set(result.received) - set(result.expected))
    return _table(
        ["record type", "expected", "received"],
        [[kind, f"{result.expected.get(kind, 0):,}", f"{result.received.get(kind, 0):,}"]
         for kind in [*kinds[:-1], *extra, "total"]],
    ) + f"\nlost: {result.lost:,} of {result.expected['total']:,} spans"


def hotpath_text(report: HotPathReport) -> str:
    tasks = report.tasks
    lines = [f"{tasks:,} tasks, wall {report.wall:.2f} s (in-process cluster, tracing to file)"]
    rows = []
    for name, timer in report.hooks.items():
        if timer.calls:
            rows.append([name, f"{timer.calls:,}", f"{timer.seconds:.3f}",
                         f"{timer.seconds / timer.calls * 1e6:.1f}",
                         f"{timer.seconds / tasks * 1e6:.1f}"])
    lines.append(_table(["hook (inclusive wall time)", "calls", "total s", "µs/call", "µs/task"],
                        rows))
    for name, seconds in report.pipeline_thread_cpu.items():
        lines.append(f"CPU of {name}: {seconds:.3f} s = {seconds / tasks * 1e6:.1f} µs/task")
    spans = report.replay_counts.get("spans", 0) or 1
    records = report.replay_counts.get("records", 0) or 1
    replay = dict(report.replay)
    sdk_stages = ("SDK ReadableSpan", "encode OTLP protobuf (SDK)")
    if all(stage in replay for stage in sdk_stages):
        replay["SDK path in total (grpc/http-protobuf, otlp_exporter=sdk)"] = sum(
            replay[stage] for stage in sdk_stages)
    rows = [[stage, f"{seconds:.3f}", f"{seconds / tasks * 1e6:.1f}",
             f"{seconds / records * 1e6:.2f}", f"{seconds / spans * 1e6:.2f}"]
            for stage, seconds in replay.items()]
    lines.append(f"offline replay of the run's records ({report.replay_counts}):")
    lines.append(_table(["stage", "total s", "µs/task", "µs/record", "µs/span"], rows))
    if report.yappi_top:
        lines.append(f"yappi (CPU clock, all threads): {report.yappi_total:.2f} s in total, "
                     f"{report.yappi_ours:.2f} s in otel_dask_prov "
                     f"({report.yappi_ours / max(report.yappi_total, 1e-9):.1%})")
        lines.append(_table(["otel_dask_prov function", "calls", "own CPU s"],
                            [[name, f"{calls:,}", f"{seconds:.3f}"]
                             for name, calls, seconds in report.yappi_top]))
    if report.missing:
        lines.append("probes not found (design changed?): " + ", ".join(report.missing))
    return "\n".join(lines)
