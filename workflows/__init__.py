"""Deterministic orchestration: workflows only decide; activities do the I/O."""
