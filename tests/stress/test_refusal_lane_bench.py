"""bench/stress.py's `lane` part measures what it says: the same refusals through slotwise and
through bench/refusal_lane.py, every one a 409 from both, and the lane's alternatives the same
as slotwise's for every taken start (no timing is asserted; the figures are the bench's)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from slotwise.testing.stress.servers import PrivatePostgres, PrivateRedis

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _stress_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("slotwise_bench_stress", BENCH / "stress.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_lane_refuses_as_slotwise_does(private_postgres: PrivatePostgres,
                                           private_redis: PrivateRedis,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    bench = _stress_bench()
    cfg = bench.Config(quick=True, processes=[1], clients=4, attempts=0, pgbench_s=0,
                       contention_attempts=150, contention_slots=100,
                       redis_url=private_redis.url, jobs="external")
    bench.part_lane(private_postgres, cfg)
    printed = capsys.readouterr().out
    rows = re.findall(r"^(slotwise|refusal lane)\s.*(\{.*\})$", printed, re.MULTILINE)
    assert [name for name, _ in rows] == ["slotwise", "refusal lane"] * 2, printed
    assert {statuses for _, statuses in rows} == {"{'409': 150}"}, printed
    same = re.search(r"the same alternatives from both, per taken start: (\d+) of (\d+)",
                     printed)
    assert same is not None, printed
    assert same.group(1) == same.group(2) == "100", printed
