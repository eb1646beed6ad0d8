"""A DataTable whose render caches fit the table: for tables that change on every refresh."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

#: Cached renders kept per table. DataTable keys its caches on an update counter that every
#: ``update_cell`` bumps, so in a table refreshed 10 times a second no cached render is ever
#: used twice; its default caches (10,000 cells, 1,000 rows and lines) would only fill with
#: dead entries, and the process would grow for minutes before it levelled off.
CELLS = 512
LINES = 128


class BoundedTable(DataTable[Text]):
    """A row-cursor DataTable of Rich texts, with render caches sized for one screenful."""

    def __init__(self, *, show_cursor: bool = True, id: str | None = None) -> None:
        super().__init__(cursor_type="row", show_cursor=show_cursor, id=id)
        self._cell_render_cache.maxsize = CELLS
        self._row_render_cache.maxsize = LINES
        self._row_renderable_cache.maxsize = LINES
        self._line_cache.maxsize = LINES
