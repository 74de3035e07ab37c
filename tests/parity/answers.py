"""answers.py: the Python side of tests/parity.rs: the lines answers.c
prints, for the same contexts and units, through the Python package.

    python3 answers.py DB CONTEXTS UNITS
"""

import json
import sys

import cha_deploy

FLAGS = ["velocity_limit", "solver_v3", "pipe_catalogue", "max_iterations", "strict_report"]


def main(db: str, contexts: str, units: str) -> None:
    out = []
    with cha_deploy.open(db) as cha, open(contexts) as c, open(units) as u:
        for line, unit in zip(c, u):
            context = json.loads(line)
            unit = unit.rstrip("\n")
            fields = [unit]
            fields += ["1" if cha.flag_bool(f, False, context=context) else "0" for f in FLAGS]
            fields.append(repr(cha.flag_double("velocity_limit", -1.0, context=context)))
            fields.append(str(cha.flag_int("max_iterations", -1, context=context)))
            catalogue = cha.flag_details("pipe_catalogue", None, "json", context=context)
            fields.append(catalogue.variant or "-")
            fields.append(cha.peek("pipe_sizing_comparison", unit) or "-")
            out.append("\t".join(fields))
    print("\n".join(out))


if __name__ == "__main__":
    main(*sys.argv[1:4])
