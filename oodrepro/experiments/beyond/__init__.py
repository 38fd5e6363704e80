"""Beyond the three papers: every detector of the book on every training objective of the book, one page.

=============  ====================================================================================
``grid``       the ``beyond/objectives`` page: schema, the grid of cells (each computed by the function
               the papers' own pages use), claims, page text and the heatmap
=============  ====================================================================================
"""
from ...engine.page import PageSpec, register
from ..kpca.common import blas_limited
from . import grid

# one BLAS thread while the page runs, as kpca's pages (PCA and KPCA fits on a shared machine)
PAGES = [register(PageSpec("beyond/objectives", blas_limited(grid.run_page), grid.page_texts,
                           claims_title="Claims beyond the papers tested by this run", beside_paper=False))]
