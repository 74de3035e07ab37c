"""pipe_sizing.py: how Python pipe-sizing code uses cha-deploy.

Sizes the pipes of small district-heating networks. The A/B test
`pipe_sizing_comparison` (configs/ab_tests.yml) decides per network whether
the traditional fixed DN100 or flow-based sizing is used, and hands the
sizing method its configuration (the velocity limit). The flag
`intelligent_pipe_sizing` can hold networks back. Each network's cost
efficiency is recorded, and the analysis is printed.

    cargo build --release --lib
    PYTHONPATH=bindings/python python3 examples/pipe_sizing.py cha.db configs
"""

import math
import sys

import cha_deploy

# Inner diameters (m) and installed cost (EUR/m) of pre-insulated steel pipes.
SIZES = [  # (DN, inner diameter, cost)
    (25, 0.0285, 420), (32, 0.0372, 450), (40, 0.0431, 480), (50, 0.0545, 530),
    (65, 0.0703, 600), (80, 0.0825, 660), (100, 0.1071, 760), (125, 0.1325, 880),
    (150, 0.1603, 1000), (200, 0.2101, 1250),
]
TRADITIONAL = 6  # DN100 everywhere


def size_by_flow(load_kw: float, max_velocity: float) -> int:
    """The smallest standard pipe keeping the velocity at or below the limit."""
    flow_m3s = load_kw / (4.18 * 30.0) / 975.0  # cp kJ/kgK, dT K, rho kg/m3
    for i, (_, diameter, _) in enumerate(SIZES):
        if flow_m3s / (math.pi * diameter**2 / 4) <= max_velocity:
            return i
    return len(SIZES) - 1


def network_efficiency(seed: int, configuration: dict) -> float:
    """kW of connected load per kEUR of pipe for one deterministic network."""
    x = (seed * 2654435761 + 1) & 0xFFFFFFFF
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
    with cha_deploy.Cha(db) as cha:
        cha.deploy_all(configs)
        held_back = 0
        for n in range(400):
            network = f"network-{n}"
            if not cha.is_enabled("intelligent_pipe_sizing", user_id=network):
                held_back += 1  # sized the traditional way, outside the test
                continue
            assignment = cha.assignment("pipe_sizing_comparison", network)
            if assignment.variant is None:
                continue
            efficiency = network_efficiency(n, assignment.configuration or {})
            cha.record("pipe_sizing_comparison", network, "pipe_cost_efficiency", efficiency)
        cha.flush()
        report = cha.analyze_test_results("pipe_sizing_comparison")
        print(f"{held_back} networks held back by the flag")
        print("conclusion:", report["conclusion"], "-", report["recommendation"])
        for reason in report["reasons"]:
            print("  -", reason)


if __name__ == "__main__":
    main(*(sys.argv[1:3] if len(sys.argv) > 2 else ("cha.db", "configs")))
