"""Decodes the inputs.pb that spok_flyte_encode_inputs wrote with real flyteidl/flytekit
and checks every value (the C test and this script agree on the values)."""
import datetime
import sys

from flyteidl.core import literals_pb2
from flytekit.core.context_manager import FlyteContextManager
from flytekit.core.type_engine import TypeEngine
from flytekit.models.literals import LiteralMap


def main(path):
    with open(path, "rb") as f:
        pb = literals_pb2.LiteralMap.FromString(f.read())
    types = {"partitions": int, "ratio": float, "label": str, "flag": bool,
             "when": datetime.datetime, "wait": datetime.timedelta}
    ctx = FlyteContextManager.current_context()
    got = TypeEngine.literal_map_to_kwargs(ctx, LiteralMap.from_flyte_idl(pb), python_types=types)
    want = {
        "partitions": 7,
        "ratio": 0.25,
        "label": "pi \u03c0 run",
        "flag": True,
        "when": datetime.datetime(2020, 9, 11, 8, 30, 0, 250000, tzinfo=datetime.timezone.utc),
        "wait": datetime.timedelta(hours=1, minutes=30, milliseconds=500),
    }
    if got.keys() != want.keys():
        sys.exit(f"check_inputs: keys {sorted(got)} != {sorted(want)}")
    for k, v in want.items():
        g = got[k]
        if isinstance(g, datetime.datetime) and g.tzinfo is None:
            g = g.replace(tzinfo=datetime.timezone.utc)
        if g != v:
            sys.exit(f"check_inputs: {k}: got {g!r}, want {v!r}")
    print("check_inputs: ok", {k: str(v) for k, v in got.items()})


if __name__ == "__main__":
    main(sys.argv[1])
