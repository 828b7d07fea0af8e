"""Test oracles shipped with the package: slow, obviously-correct reference implementations that tests and
benchmarks compare the fast stage code against. Nothing here runs in a pipeline."""
