"""oodrepro.engine.page: what a page glues."""


def test_a_table_key_given_a_sentence_is_glued_as_markdown():
    """``{glue}`` of a plain string renders a quoted literal block (seen on the Tsinghua page's Table 4 line);
    a sentence standing in for a table is glued as Markdown, everything else as it is."""
    from IPython.display import Markdown

    from oodrepro.engine.page import as_block

    shown = as_block("tbl_t4", "Table 4 was not run.")
    assert isinstance(shown, Markdown) and shown.data == "Table 4 was not run."
    assert as_block("wall_time", "12 s") == "12 s"
    table = object()
    assert as_block("tbl_main", table) is table
