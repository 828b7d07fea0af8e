"""Hierarchical dedup: exact content hashes first, then MinHash LSH near-duplicates."""
