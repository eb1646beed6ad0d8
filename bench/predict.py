"""How fast ``isru seq predict`` runs a sequence: mission seconds predicted per wall second.

Prints one JSON object: ``{"sequence": ..., "mission_s": ..., "wall_s": ..., "speedup": ...,
"wall_s_per_mission_hour": ..., "outcome": ...}`` for ``sequences/water.seq`` (or the file
given). The wall time is the dry run's own (the interpreter's start and imports excluded).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from interface.catalog import DICTIONARY
from interface.sequence import parse_sequence
from isru.predict.run import predict

DEFAULT = Path(__file__).parents[1] / "sequences" / "water.seq"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    sequence = parse_sequence(path.read_text(), name=path.stem, dictionary=DICTIONARY)
    p = predict(sequence)
    print(
        json.dumps(
            {
                "sequence": path.name,
                "mission_s": round(p.duration_s, 1),
                "wall_s": round(p.wall_s, 2),
                "speedup": round(p.duration_s / p.wall_s, 1),
                "wall_s_per_mission_hour": round(p.wall_s * 3600 / max(p.duration_s, 1e-9), 2),
                "outcome": p.outcome,
            }
        )
    )


if __name__ == "__main__":
    main()
