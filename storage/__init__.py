"""Storage: the SQLite schema, its migrations and the repository over aiosqlite."""

from storage.errors import Conflict, DatabaseUnavailable, NotFound, StorageError
from storage.repository import PICK_SQL, Repository

__all__ = [
    "PICK_SQL",
    "Conflict",
    "DatabaseUnavailable",
    "NotFound",
    "Repository",
    "StorageError",
]
