"""prolific-etl: export Prolific AI Task Builder batches into a SQL database.

The library API is the job the CLI runs::

    from etl import load_settings, sync

    result = sync(load_settings(), "batch_ids.txt")
    print(result.status, result.inserted, result.failures)
"""

__version__ = "0.1.0"

__all__ = ["EtlError", "Progress", "Settings", "SyncResult", "load_settings", "sync"]

_EXPORTS = {
    "EtlError": "errors",
    "Progress": "job",
    "Settings": "config",
    "SyncResult": "job",
    "load_settings": "config",
    "sync": "job",
}


def __getattr__(name: str):
    # Imported on first use, so that a worker process (etl.fetch) does not import the database
    # side of the package (SQLAlchemy, the loader) that it never uses.
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
