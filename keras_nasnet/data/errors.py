"""Why a dataset cannot be loaded, as exception types a caller can tell apart.

Every one is a `DatasetError` whose message names the cause and the fix, so a
command line can print it as one line. Each also derives from the built-in
type a Python user would catch for that cause.
"""


class DatasetError(Exception):
    """A dataset cannot be loaded; the message says why and what to do."""


class UnknownDatasetError(DatasetError, ValueError):
    """No dataset of that name: not a local one, a folder, or a TFDS dataset."""


class MissingPackageError(DatasetError, ImportError):
    """A Python package the loader needs is not installed (`name` is its module)."""


class DatasetDownloadError(DatasetError, ConnectionError):
    """The data could not be downloaded (no network, or the server failed)."""
