"""Storage: the SQLite schema, its migrations and the typed access to it over aiosqlite.

Import what you use from its modules (`storage.repository.Repository`, `storage.models`,
...): the quality check's child process imports `storage.snapshot` alone, and this package
must not make it load the rest.
"""

from storage.errors import Conflict, DatabaseUnavailable, NotFound, StorageError

__all__ = ["Conflict", "DatabaseUnavailable", "NotFound", "StorageError"]
