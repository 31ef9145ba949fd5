"""Runtime plumbing shared by worker.py, starter.py and the tests: settings, Temporal client,
logging and the embedded Temporal dev server. No business logic lives here."""
