"""Tests that run the examples in examples/."""
