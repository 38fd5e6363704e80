"""oodrepro.fingerprint: code fingerprints."""
from oodrepro import fingerprint


def test_code_fingerprint_ignores_comments_and_docstrings():
    src = "def f(x):\n    'doc'\n    return x + 1  # note\n"
    assert fingerprint.normalised_source(src) == fingerprint.normalised_source('def f(x):\n    """other"""\n\n    return x + 1\n')
    assert fingerprint.normalised_source(src) != fingerprint.normalised_source("def f(x):\n    return x + 2\n")
