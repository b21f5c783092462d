"""Writes flytekit-made payloads for the flyteidl tests into <outdir>:

outputs.pb       the LiteralMap flytekit's TypeEngine makes for `-> float` (o0 = 3.14159)
outputs_rich.pb  a LiteralMap with int, str, bool, datetime, duration, list and dict values
error.pb         an ErrorDocument like pyflyte-execute writes for a recoverable user error
"""
import datetime
import sys

from flyteidl.core import errors_pb2
from flytekit.core.context_manager import FlyteContextManager
from flytekit.core.type_engine import TypeEngine
from typing import Dict, List


def write(path, msg):
    with open(path, "wb") as f:
        f.write(msg.SerializeToString())


def main(outdir):
    ctx = FlyteContextManager.current_context()
    lm = TypeEngine.dict_to_literal_map(ctx, {"o0": 3.14159}, {"o0": float})
    write(f"{outdir}/outputs.pb", lm.to_flyte_idl())

    values = {
        "i": 42,
        "s": "h\u00e9llo",
        "b": True,
        "dt": datetime.datetime(2020, 9, 11, 10, 0, 0, 500000, tzinfo=datetime.timezone.utc),
        "d": datetime.timedelta(minutes=90),
        "xs": [1, 2, 3],
        "m": {"a": 1.5},
    }
    types = {"i": int, "s": str, "b": bool, "dt": datetime.datetime,
             "d": datetime.timedelta, "xs": List[int], "m": Dict[str, float]}
    lm = TypeEngine.dict_to_literal_map(ctx, values, types)
    write(f"{outdir}/outputs_rich.pb", lm.to_flyte_idl())

    doc = errors_pb2.ErrorDocument(error=errors_pb2.ContainerError(
        code="USER:ValueError", message="Traceback: partitions must be positive",
        kind=errors_pb2.ContainerError.RECOVERABLE,
        origin=1))
    write(f"{outdir}/error.pb", doc)


if __name__ == "__main__":
    main(sys.argv[1])
