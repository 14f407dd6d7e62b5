"""Small SQL helpers shared by the server modules."""
from __future__ import annotations

CHUNK = 500  # ids per IN (…) list: well under every database's parameter limit


def chunks(seq: list, n: int = CHUNK):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]
