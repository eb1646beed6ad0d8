"""The samples tab: a row per sample heard on ``samples/entry``, checked against the key of
the retained ``samples/head``; enter opens the sample's newest image with the system viewer.

The data is :mod:`ground.console.samples_model` and :mod:`ground.console.samples_images`;
this module only shows it. The console's timer hands it the messages that arrived since the
last refresh (:meth:`SamplesPanel.take`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from ground.console.samples_images import ImageStore, ImageUnavailable, system_viewer
from ground.console.samples_model import UNCHECKED, SampleBook, SampleRow
from ground.console.tables import BoundedTable

#: Column key, title and width (None: as wide as its widest cell).
COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("sample", "sample", None),
    ("chain", "chain", None),
    ("mass", "mass", None),
    ("location", "location", 11),
    ("images", "images", None),
    ("custody", "custody", None),
    ("problem", "problem", None),
)


class SamplesTable(BoundedTable):
    """The rows; ``enter`` (or ``o``) asks to open the highlighted sample's newest image."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_image", "Open image", tooltip="The newest image of the sample"),
        Binding("o", "open_image", "Open image", show=False),
    ]

    class OpenRequested(Message):
        """The operator asked to see the newest image of ``sample``."""

        def __init__(self, sample: str) -> None:
            super().__init__()
            self.sample = sample

    def highlighted(self) -> str | None:
        """The sample under the cursor."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return None if key is None else str(key)

    def action_open_image(self) -> None:
        sample = self.highlighted()
        if sample is not None:
            self.post_message(self.OpenRequested(sample))


class SamplesPanel(Vertical):
    """A line about the head (and the highlighted sample's whole check), then the table."""

    DEFAULT_CSS = """
    SamplesPanel {
        height: 1fr;
    }
    SamplesPanel > Static {
        height: auto;
        max-height: 3;
        padding: 0 1;
    }
    SamplesPanel > SamplesTable {
        height: 1fr;
    }
    """

    class Said(Message):
        """Something for the operator's feedback line (``error``: in red)."""

        def __init__(self, text: str, error: bool = False) -> None:
            super().__init__()
            self.text = text
            self.error = error

    def __init__(self, *, images_dir: Path | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.book = SampleBook()
        self.images = ImageStore(images_dir)
        #: How an image is opened: replaced by a recorder in tests.
        self.opener: Callable[[Path], None] = system_viewer
        self.header = Static(id="samples-head")
        self.table = SamplesTable(id="samples-table")
        #: Sample -> the row it shows now.
        self.shown: dict[str, SampleRow] = {}

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.table

    def on_mount(self) -> None:
        for key, title, width in COLUMNS:
            self.table.add_column(title, key=key, width=width)
        self.show()

    def on_data_table_row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        self.header.update(self.head_text())

    def on_samples_table_open_requested(self, message: SamplesTable.OpenRequested) -> None:
        row = self.shown.get(message.sample)
        try:
            if row is None:
                raise ImageUnavailable(f"{message.sample}: no such sample")
            path = self.images.path_of(row.newest_image, row.newest_sha256, row.sample)
            self.opener(path)
        except ImageUnavailable as exc:
            self.post_message(self.Said(str(exc), error=True))
        else:
            self.post_message(self.Said(f"{row.sample}: opened {path}"))

    # --- public ------------------------------------------------------------------------

    def take(self, messages: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Take the samples and images messages that arrived (topic suffix, document)."""
        for suffix, document in messages:
            if not self.book.take(suffix, document):
                said = self.images.take(suffix, document)
                if said is not None:
                    self.post_message(self.Said(*said))
        self.show()

    def show(self) -> None:
        """Bring the table up to the book: only changed cells, unless a sample came in
        between others (then every row again, the cursor kept on its sample)."""
        rows = self.book.rows()
        table = self.table
        if [row.sample for row in rows][: len(self.shown)] != list(self.shown):
            current = table.highlighted()
            table.clear()
            self.shown = {}
            for row in rows:
                table.add_row(*cells(row), key=row.sample)
                self.shown[row.sample] = row
            if current in self.shown:
                table.move_cursor(row=table.get_row_index(current))
        for row in rows:
            before = self.shown.get(row.sample)
            if before is None:
                table.add_row(*cells(row), key=row.sample)
            elif before != row:
                for (key, _, _), cell in zip(COLUMNS, cells(row), strict=True):
                    table.update_cell(row.sample, key, cell, update_width=True)
            self.shown[row.sample] = row
        self.header.update(self.head_text())

    def head_text(self) -> Text:
        """``7 entries, 2 samples (2 here), key 1a2b3c4d`` (the head's, and how many samples
        this console heard) and the highlighted sample's problem."""
        book, head = self.book, self.book.head
        if not head:
            line = Text("no samples/head from the vehicle yet", style="yellow")
        else:
            samples = head.get("samples")
            count = len(samples) if isinstance(samples, list) else samples
            line = Text(f"{head.get('entries')} entries, {count} samples")
            line.append(f" ({len(self.shown)} here)", "dim")
            signer = str(head.get("signer") or "?")
            line.append(", key ")
            line.append(signer, "bold" if book.key_problem is None else "bold red")
        if book.key_problem is not None and head:
            line.append(f"  {book.key_problem}", "red")
        if book.strays:
            line.append(f"  {len(book.strays)} unreadable: {book.strays[-1]}", "red")
        row = self.shown.get(self.table.highlighted() or "")
        if row is not None and not row.ok:
            line.append(f"\n{row.sample}: {row.check}", "red")
        return line


def cells(row: SampleRow) -> list[Text]:
    """The row's cells, in COLUMNS' order."""
    images = "-" if not row.images else f"{row.images} {row.newest_image}"
    if row.ok:
        chain = Text("ok", style="green")
    elif row.check.startswith(UNCHECKED):
        chain = Text("unchecked", style="bold yellow")
    else:
        chain = Text("BAD", style="bold white on red")
    return [
        Text(row.sample),
        chain,
        Text(row.mass, justify="right"),
        Text(row.location),
        Text(images),
        Text(row.custody, style="bold" if row.custody != "collected" else ""),
        Text("" if row.ok else row.check, style="red"),
    ]
