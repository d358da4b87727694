"""bench/use_case_cpu.py runs and measures what it says: a booking and a refusal in a rush,
with the statements each sends, and the same refusal through the ASGI app with its
authentication, then through the rush lane (no timing is asserted; the figures are the
bench's to print)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "use_case_cpu.py"


def test_the_bench_prints_a_booking_and_a_rush_refusal_with_their_statements() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--calls", "3", "--batches", "1"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    rows = {m.group(1).strip(): int(m.group(2))
            for m in re.finditer(r"^(\S.*?)\s{2,}(\d+)\s+\d+\.\d+\s+\d+\.\d+$", done.stdout,
                                 re.MULTILINE)}
    assert rows == {
        "201 (a free start past the calendar's bookings)": 7,
        # A refusal in a rush: the organisation's row and the busy time, nothing else
        "409 in a rush (a taken start, after a refusal)": 2,
        "authentication of the bearer token alone": 1,
        # Through the app: the session's row, then the refusal's two (each call answered 409)
        "the 409 through the ASGI app, 1 at once on 4 threads": 3,
        "the 409 through the ASGI app, 16 at once on 1 thread": 3,
        "the 409 through the ASGI app, 16 at once on 4 threads": 3,
        # The rush lane: the caller with their catalog version, then the busy time
        "the 409 through the rush lane, 1 at once": 2,
        "the 409 through the rush lane, 16 at once": 2,
        "one SELECT 1 through SQLAlchemy (ceiling)": 1,
        "one SELECT 1 through psycopg (ceiling)": 1,
    }, done.stdout
