"""bench/stress.py's `lane` part measures what it says: the same refusals through slotwise with
its rush lane, without it, and through bench/refusal_lane.py, every one a 409 from each, with
the same alternatives for every taken start (no timing is asserted; the figures are the
bench's)."""

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


def test_slotwise_with_and_without_its_lane_and_the_bench_lane_refuse_alike(
        private_postgres: PrivatePostgres, private_redis: PrivateRedis,
        capsys: pytest.CaptureFixture[str]) -> None:
    bench = _stress_bench()
    # 100 refusals: each of the 100 taken starts once, through each of the three
    cfg = bench.Config(quick=True, processes=[1], clients=4, attempts=0, pgbench_s=0,
                       contention_attempts=100, contention_slots=100,
                       redis_url=private_redis.url, jobs="external")
    bench.part_lane(private_postgres, cfg)
    printed = capsys.readouterr().out
    rows = re.findall(r"^(slotwise|slotwise, lane off|bench refusal lane)\s.*(\{.*\})$",
                      printed, re.MULTILINE)
    names = ["slotwise", "slotwise, lane off", "bench refusal lane"]
    assert [name for name, _ in rows] == names * 2, printed
    assert {statuses for _, statuses in rows} == {"{'409': 100}"}, printed
    for other in names[1:]:
        same = re.search(rf"the same alternatives from slotwise and {other}, per taken start: "
                         r"(\d+) of (\d+)", printed)
        assert same is not None, printed
        assert same.group(1) == same.group(2) == "100", printed
