"""pipe_sizing.py: how Python pipe-sizing code uses cha-deploy.

Sizes the pipes of small district-heating networks, numbered 0..399. The
flag `intelligent_pipe_sizing` (configs/feature_flags.yml) can hold a network
back; the A/B test `pipe_sizing_comparison` (configs/ab_tests.yml) decides
per network whether the traditional fixed DN100 or flow-based sizing is used,
and hands the sizing method its configuration (the velocity limit). The
sizing is timed, each network's cost efficiency is recorded, the engineers
rate the result, and the analysis is printed.

    cargo build --release
    pip install ./bindings/python
    python3 examples/python/pipe_sizing.py cha.db configs
"""

from __future__ import annotations

import math
import sys
from typing import Any, Dict, Mapping

import cha_deploy

# Inner diameters (m) and installed cost (EUR/m) of pre-insulated steel pipes.
SIZES = [  # (DN, inner diameter, cost)
    (25, 0.0285, 420), (32, 0.0372, 450), (40, 0.0431, 480), (50, 0.0545, 530),
    (65, 0.0703, 600), (80, 0.0825, 660), (100, 0.1071, 760), (125, 0.1325, 880),
    (150, 0.1603, 1000), (200, 0.2101, 1250),
]
TRADITIONAL = 6  # DN100 everywhere
NETWORKS = 400


def size_by_flow(load_kw: float, max_velocity: float) -> int:
    """The smallest standard pipe keeping the velocity at or below the limit."""
    flow_m3s = load_kw / (4.18 * 30.0) / 975.0  # cp kJ/kgK, dT K, rho kg/m3
    for i, (_, diameter, _) in enumerate(SIZES):
        if flow_m3s / (math.pi * diameter**2 / 4) <= max_velocity:
            return i
    return len(SIZES) - 1


def network_efficiency(network: int, configuration: Mapping[str, Any]) -> float:
    """kW of connected load per kEUR of pipe for one deterministic network."""
    x = (network * 2654435761 + 1) & 0xFFFFFFFF
    load_total = cost = 0.0
    for _ in range(12):
        x = (x * 1664525 + 1013904223) & 0xFFFFFFFF
        load = 50 + (x >> 8) % 900
        length = 20 + (x >> 4) % 180
        if configuration.get("enable_intelligent_sizing"):
            size = size_by_flow(load, configuration.get("max_velocity_ms", 2.0))
        else:
            size = TRADITIONAL
        load_total += load
        cost += length * SIZES[size][2]
    return load_total / (cost / 1000.0)


def main(db: str, configs: str) -> None:
    with cha_deploy.open(db) as cha:
        cha.deploy_all(configs)
        held_back = 0
        ratings: Dict[str, int] = {}
        for network in range(NETWORKS):
            # Network ids are ints here; cha-deploy takes them as their
            # decimal digits, as C callers and the command line write them.
            if not cha.is_enabled("intelligent_pipe_sizing", user_id=network):
                held_back += 1  # sized the traditional way, outside the test
                continue
            assignment = cha.assignment("pipe_sizing_comparison", network)
            if assignment.variant is None:
                continue
            with cha.timer("pipe_sizing_time_ms", {"variant": assignment.variant}):
                efficiency = network_efficiency(network, assignment.configuration or {})
            cha.record("pipe_sizing_comparison", network, "pipe_cost_efficiency", efficiency)
            cha.increment("pipe_sizing_requests")
            if network % 20 == 0:
                # Every twentieth engineer rates the sizing they got: well
                # when it saves a fifth of the cost of DN100 everywhere.
                rating = 5 if efficiency > 1.2 * network_efficiency(network, {}) else 3
                cha.submit_satisfaction_survey(
                    rating,
                    "the pipe sizes look right and it saves time"
                    if rating == 5
                    else "usable, but the diameters look oversized",
                    user_id=network,
                )
                ratings[assignment.variant] = ratings.get(assignment.variant, 0) + 1
        cha.flush()

        print(f"{held_back} of {NETWORKS} networks held back by the flag")
        metrics = {m["metric"]: m for m in cha.generate_performance_report()["metrics"]}
        timing = metrics["pipe_sizing_time_ms"]
        print(
            f"sizing time: {timing['count']} networks, "
            f"p50 {timing['p50']:.3f} ms, p99 {timing['p99']:.3f} ms"
        )
        satisfaction = cha.analyze_feedback()["satisfaction"]
        print(
            f"feedback: {satisfaction['ratings']} ratings "
            f"(by variant {dict(sorted(ratings.items()))}), "
            f"average {satisfaction['average_rating']:.1f} of 5, CSAT {satisfaction['csat']:.0%}"
        )
        report = cha.analyze_test_results("pipe_sizing_comparison")
        print("conclusion:", report["conclusion"], "-", report["recommendation"])
        for reason in report["reasons"]:
            print("  -", reason)


if __name__ == "__main__":
    main(*(sys.argv[1:3] if len(sys.argv) > 2 else ("cha.db", "configs")))
