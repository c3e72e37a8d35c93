"""Oracles shared by the tests and the benchmarks: slow, obviously-correct references to compare against."""
