"""Pure business models and rules of peyvand: no I/O, no Temporal."""
