"""A chapter made from CONTRIBUTING.md's recipe alone (tests/example_chapter/README.md)."""
from oodrepro.engine.page import PageSpec, register

from . import page

PAGES = [register(PageSpec("toy/page", page.run_page, page.page_texts))]
