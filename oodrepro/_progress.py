"""The one progress-bar import of the package (tqdm's notebook-aware bar, text when widgets are absent)."""
import warnings

with warnings.catch_warnings():  # tqdm.auto warns when ipywidgets is missing, then falls back to text bars
    warnings.simplefilter("ignore")
    from tqdm.auto import tqdm  # noqa: F401
