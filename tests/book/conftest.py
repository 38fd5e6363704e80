import pytest


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium executable for the rendered-book check; the test is skipped, with the install line as the
    reason, where there is no Chromium or no playwright."""
    from oodrepro import bookcheck

    try:
        exe = bookcheck.find_chromium()
        import playwright.sync_api  # noqa: F401
    except (bookcheck.BrowserMissing, ImportError) as exc:
        pytest.skip(f"rendered-book check not run: {exc}" if isinstance(exc, bookcheck.BrowserMissing) else
                    f"rendered-book check not run: no playwright. {bookcheck.INSTALL_HINT}")
    return exe
