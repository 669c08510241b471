"""prolific-etl: export Prolific AI Task Builder batches into a SQL database.

The library API is the job the CLI runs::

    from etl import load_settings, sync

    result = sync(load_settings(), "batch_ids.txt")
    print(result.status, result.inserted, result.failed)
"""

__version__ = "0.1.0"

from .config import Settings, load_settings  # noqa: E402
from .errors import EtlError  # noqa: E402
from .job import Progress, SyncResult, sync  # noqa: E402

__all__ = ["EtlError", "Progress", "Settings", "SyncResult", "load_settings", "sync"]
