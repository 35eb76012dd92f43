"""Storage errors: what SQLite raises becomes one of these, with a message a user can act on."""


class StorageError(Exception):
    """Base class of every storage failure."""


class DatabaseUnavailable(StorageError):
    """The database file cannot be opened, created or migrated."""


class NotFound(StorageError):
    """A project, sample or invite that was asked for does not exist."""


class Conflict(StorageError):
    """A write would break a uniqueness or integrity rule (e.g. a project slug already taken)."""
