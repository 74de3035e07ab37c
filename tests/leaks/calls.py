"""calls.py: the Python side of tests/leaks.rs: the rounds of calls.c
through the Python package, printing resident memory and the number of
live Python objects after the first fifth of the rounds and at the end.

    python3 calls.py DB CONFIG_DIR ROUNDS
    -> "rss KB KB" and "objects N N"
"""

import gc
import os
import sys

import cha_deploy


def resident_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE") // 1024


def main(db: str, configs: str, rounds: int) -> None:
    figures = []
    with cha_deploy.open(db) as cha:
        cha.deploy_all(configs)
        flag = cha.flag("intelligent_pipe_sizing")
        for i in range(rounds):
            unit = i % 10000
            flag.enabled(user_id=unit, groups=["beta_testers"])
            cha.is_enabled("pressure_drop_check", user_id="planner-7", user_groups=["beta_testers"])
            if cha.assign("pipe_sizing_comparison", unit) is not None:
                cha.record("pipe_sizing_comparison", unit, "pipe_cost_efficiency", float(i % 97))
            cha.record_timer("pipe_sizing_time_ms", 0.002, {"method": "intelligent"})
            cha.increment("pipe_sizing_requests")
            try:
                cha.get_flag("no_such_flag")
            except cha_deploy.NotFoundError:
                pass
            if i % 1000 == 0:
                cha.submit_general_feedback("fine", user_id="planner-7")
                cha.assignment("pipe_sizing_comparison", unit)
            if i + 1 == rounds // 5:
                cha.flush()
                gc.collect()
                figures.append((resident_kb(), len(gc.get_objects())))
        cha.flush()
        gc.collect()
        figures.append((resident_kb(), len(gc.get_objects())))
    print(f"rss {figures[0][0]} {figures[1][0]}")
    print(f"objects {figures[0][1]} {figures[1][1]}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
