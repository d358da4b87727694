"""Prometheus metrics, one registry per application instance."""

from __future__ import annotations

from fastapi import Request
from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.request_seconds = Histogram(
            "slotwise_http_request_duration_seconds", "HTTP request latency",
            ["method", "route", "status"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.bookings_created = Counter(
            "slotwise_bookings_created_total", "Bookings written", ["channel"],
            registry=self.registry)
        self.bookings_refused = Counter(
            "slotwise_bookings_refused_total", "Booking attempts refused with a conflict",
            ["reason"], registry=self.registry)
        self.rush_lane = Counter(
            "slotwise_rush_lane_total",
            "Booking attempts in a rush the rush lane looked at: 'refused' it answered, "
            "'passed' it handed to the full path", ["outcome"], registry=self.registry)


def metrics(request: Request) -> Metrics:
    found: Metrics = request.app.state.metrics
    return found
