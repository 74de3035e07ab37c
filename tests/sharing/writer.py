"""writer.py: the Python process of tests/sharing.rs; does what writer.c
does, through the Python package.

    python3 writer.py DB TAG STOP_FILE
"""

import os
import sys

import cha_deploy


def main(db: str, tag: str, stop: str) -> None:
    observations = increments = items = 0
    last = None
    try:
        cha = cha_deploy.open(db, refresh_interval_ms=100, flush_interval_ms=50)
        with cha:
            while not os.path.exists(stop):
                on = bool(cha.is_enabled("flow_based_calculation"))
                if on != last:
                    last = on
                    print("seen on" if on else "seen off", flush=True)
                unit = f"{tag}-{observations}"
                if cha.assign("pipe_sizing_comparison", unit) is not None:
                    cha.record("pipe_sizing_comparison", unit, "pipe_cost_efficiency", 1.0)
                    observations += 1
                cha.increment("sharing_operations", tags={"process": tag})
                increments += 1
                if increments % 50 == 0:
                    cha.submit_general_feedback(f"{tag} item {items}", user_id=tag)
                    items += 1
    except cha_deploy.ChaError as e:
        print(f"error: {type(e).__name__}: {e}", flush=True)
        sys.exit(1)
    print(f"recorded {observations} {increments} {items}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
