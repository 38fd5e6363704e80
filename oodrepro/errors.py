"""The project's own exception types.

Every error a user can cause (a bad parameter, missing data, a broken file) is raised as one of
these, with a one-line message naming the parameter or file and what is accepted.
"""


class OodreproError(Exception):
    """Base class of every error oodrepro raises on purpose.

    In a notebook (IPython, and so under papermill) it is shown as its one line, not under a traceback
    through the package: IPython renders an exception with ``_render_traceback_`` by calling it.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class ParameterError(OodreproError, ValueError):
    """A parameter is outside what is accepted. The message names it and the accepted values."""


class DataNotFoundError(OodreproError, FileNotFoundError):
    """A data set is not on disk and may not be downloaded.

    The message names the data set, the path that was looked at and how to obtain the files.
    """

    def __init__(self, dataset: str, expected: str, how: str):
        self.dataset, self.expected, self.how = dataset, expected, how
        super().__init__(f"data set {dataset!r} not found: expected {expected}. {how}")

    def __reduce__(self):  # picklable across processes
        return (type(self), (self.dataset, self.expected, self.how))


class DataFormatError(OodreproError, ValueError):
    """A data or feature file exists but does not hold what is expected."""
