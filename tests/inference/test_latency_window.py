"""The rolling TTFT window behind ``Backend.load().recent_ttft_ms``: its median follows every new sample."""

from __future__ import annotations

from inference.remote._stats import LatencyWindow


def test_the_median_follows_each_sample_and_the_window_keeps_the_last() -> None:
    window = LatencyWindow(size=3)
    assert window.median() is None
    window.add(10.0)
    assert window.median() == 10.0
    assert window.median() == 10.0  # asked again: the same
    window.add(30.0)
    assert window.median() == 20.0
    for millis in (1.0, 2.0, 3.0):
        window.add(millis)
    assert window.median() == 2.0 and len(window) == 3
