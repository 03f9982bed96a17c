"""Helpers for tests and benchmarks: tiny local models in the real format."""
