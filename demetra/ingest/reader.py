"""Opening an uploaded or local file: what it is (CSV/TSV in some encoding, or XLSX), where
its header is, and its rows as chunks of text.

Everything is read in chunks (``pandas.read_csv(chunksize=…)``, openpyxl's read-only
streaming), so a million-row file never sits in memory whole. Every cell comes out as text
(XLSX numbers and dates are written the way a CSV would have them), so one parser serves both.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from demetra.errors import ImportFileError
from demetra.ingest.platforms import KNOWN_NAMES, normalize_header

SNIFF_BYTES = 64 * 1024
HEADER_SEARCH_ROWS = 30

_MAGIC = {b"\x89PNG": "a PNG image", b"GIF8": "a GIF image", b"\xff\xd8\xff": "a JPEG image",
          b"%PDF": "a PDF document", b"\x1f\x8b": "a gzip archive", b"Rar!": "a RAR archive"}


Source = str | os.PathLike | bytes | IO[bytes]


@dataclass
class OpenedFile:
    name: str
    kind: str  # "csv" or "xlsx"
    size: int
    columns: list[str]
    header_row: int  # 0-based line (CSV) or row (XLSX) of the header
    encoding: str | None = None
    delimiter: str | None = None
    _open: Callable[[], IO[bytes]] = io.BytesIO

    def handle(self) -> IO[bytes]:
        return self._open()

    @property
    def first_data_row(self) -> int:
        """The 1-based file row (as a spreadsheet numbers it) of the first data row."""
        return self.header_row + 2


def _opener(source: Source) -> tuple[Callable[[], IO[bytes]], str, int]:
    if isinstance(source, bytes | bytearray):
        data = bytes(source)
        return (lambda: io.BytesIO(data)), "upload", len(data)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise ImportFileError(f"{path} does not exist or is not a file")
        return (lambda: open(path, "rb")), path.name, path.stat().st_size
    handle = source
    name = Path(str(getattr(handle, "name", "upload"))).name
    handle.seek(0, io.SEEK_END)
    size = handle.tell()

    def rewind() -> IO[bytes]:
        handle.seek(0)
        # Shield the caller's handle (an UploadedFile) from pandas closing it.
        return io.BufferedReader(_Unclosable(handle))

    return rewind, name, size


class _Unclosable(io.RawIOBase):
    def __init__(self, inner: IO[bytes]) -> None:
        self._inner = inner

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()


def _encoding(head: bytes) -> str:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    sample = head[:4096]
    if sample and sample.count(b"\x00") * 3 >= len(sample):
        # UTF-16 without a BOM: every other byte of ASCII text is zero.
        return "utf-16-le" if sample[1:2] == b"\x00" else "utf-16-be"
    try:
        # Cut at the last newline so a character split by the sniff window is not an error.
        cut = head.rfind(b"\n")
        (head[:cut] if cut > 0 and len(head) == SNIFF_BYTES else head).decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"  # what Excel on Windows writes when "CSV" is not "CSV UTF-8"


def _all_utf8(opener: Callable[[], IO[bytes]]) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with opener() as handle:
        try:
            while block := handle.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _refuse_cut_off(opener: Callable[[], IO[bytes]], name: str, size: int, encoding: str,
                    head: bytes, delimiter: str, width: int) -> None:
    """An interrupted download ends mid-row: its last row would be stored with zeros, and the
    rows after it are missing, so the file is refused."""
    start = max(0, size - SNIFF_BYTES)
    if encoding.startswith("utf-16"):
        start -= start % 2
        if encoding == "utf-16":  # the BOM says the byte order; the tail has none
            encoding = "utf-16-le" if head.startswith(codecs.BOM_UTF16_LE) else "utf-16-be"
    with opener() as handle:
        handle.seek(start)
        tail = handle.read().decode(encoding, errors="replace").lstrip("\ufeff")
    lines = tail.splitlines()
    if tail.endswith(("\n", "\r")) or len(lines) < 2:
        return
    fields = len(_split(lines[-1], delimiter))
    # A single field is a footer ("Total of 3 results"), not a row.
    if 1 < fields < width:
        raise ImportFileError(f"{name} ends in the middle of a row (its last line has {fields} "
                              f"of {width} fields): the download was cut off, export the "
                              "report again")


def _sample_text(head: bytes, encoding: str) -> str:
    text = head.decode(encoding, errors="replace")
    if len(head) == SNIFF_BYTES:  # the last line may be cut off
        text = text[:text.rfind("\n")] if "\n" in text else text
    return text.lstrip("\ufeff")


def _looks_binary(text: str) -> bool:
    if "\x00" in text:
        return True
    control = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n")
    return control > max(2, len(text) // 200)


def _split(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def _delimiter(lines: list[str]) -> str:
    def widest(d: str) -> int:
        return max((len(_split(line, d)) for line in lines), default=0)

    # Title lines above the header have one field; the data's width decides.
    return max((",", "\t", ";"), key=widest)


def _header_index(rows: list[list[str]]) -> int | None:
    """The header among the first rows: the one naming the most known columns (at least 2);
    else the first of the widest rows (a CSV with headers only the generic mapper knows)."""
    best, best_hits = None, 1
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        hits = sum(1 for cell in row if normalize_header(cell)[0] in KNOWN_NAMES)
        if hits > best_hits:
            best, best_hits = i, hits
    if best is not None:
        return best
    widths = [sum(1 for c in row if str(c).strip()) for row in rows[:HEADER_SEARCH_ROWS]]
    if not widths or max(widths) < 2:
        return None
    return widths.index(max(widths))


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        name = str(name).replace("\ufeff", "").strip() or f"Column {i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def open_file(source: Source, *, name: str | None = None) -> OpenedFile:
    """Recognise the file and find its header; raises ``ImportFileError`` with the reason."""
    opener, default_name, size = _opener(source)
    name = name or default_name
    with opener() as handle:
        head = handle.read(SNIFF_BYTES)
    if not head.strip():
        raise ImportFileError(f"{name} is empty: export the report again and upload that file")
    if head.startswith(b"PK\x03\x04"):
        return _open_xlsx(opener, name, size)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(f"{name} is an old Excel .xls workbook: open it and save it as "
                              ".xlsx or CSV, then upload that")
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise ImportFileError(f"{name} is {what}, not a CSV or XLSX export")
    encoding = _encoding(head)
    if encoding == "utf-8" and head.isascii() and size > len(head) and not _all_utf8(opener):
        # An ASCII start says nothing: "Café" 64 KB further down decides.
        encoding = "cp1252"
    text = _sample_text(head, encoding)
    if _looks_binary(text):
        raise ImportFileError(f"{name} is not a CSV or XLSX file (it holds binary data): "
                              "upload the report as exported, in CSV or XLSX")
    lines = [line for line in text.splitlines()][:HEADER_SEARCH_ROWS + 5]
    delimiter = _delimiter(lines)
    rows = [_split(line, delimiter) for line in lines]
    index = _header_index(rows)
    if index is None:
        raise ImportFileError(f"{name} has no header row with column names (found one column "
                              "per line): export the report as CSV with a header")
    _refuse_cut_off(opener, name, size, encoding, head, delimiter, len(rows[index]))
    read_encoding = "utf-8-sig" if encoding == "utf-8" else encoding
    with opener() as handle:
        try:
            columns = pd.read_csv(handle, sep=delimiter, encoding=read_encoding,
                                  skiprows=index, nrows=0, dtype=str,
                                  encoding_errors="replace").columns
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise ImportFileError(f"{name} cannot be read as CSV: {exc}") from None
    return OpenedFile(name, "csv", size, _unique([str(c) for c in columns]), index,
                      read_encoding, delimiter, opener)


def _open_xlsx(opener: Callable[[], IO[bytes]], name: str, size: int) -> OpenedFile:
    rows = []
    for row in _xlsx_rows(opener, name):
        rows.append(row)
        if len(rows) >= HEADER_SEARCH_ROWS:
            break
    index = _header_index(rows)
    if index is None:
        raise ImportFileError(f"{name}: the first sheet has no header row with column names")
    header = list(rows[index])
    while header and not str(header[-1]).strip():
        header.pop()
    return OpenedFile(name, "xlsx", size, _unique(header), index, _open=opener)


def _xlsx_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        # Beyond 2**53 a float's digits are not the ones typed (an 18-digit campaign id): its
        # exponent form lets the id check refuse it.
        return str(int(value))
    return str(value)


def _xlsx_rows(opener: Callable[[], IO[bytes]], name: str) -> Iterator[list[str]]:
    import zipfile

    from openpyxl import load_workbook

    handle = opener()
    try:
        try:
            # Formula cells come back as their text ("=HYPERLINK(…)"): stored as text, never run.
            wb = load_workbook(handle, read_only=True, data_only=False)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise ImportFileError(f"{name} is not a valid XLSX workbook ({type(exc).__name__}): "
                                  "save it again from Excel or export CSV") from None
        try:
            for row in wb.worksheets[0].iter_rows(values_only=True):
                yield [_xlsx_cell(v) for v in row]
        finally:
            wb.close()
    finally:
        handle.close()


def iter_chunks(opened: OpenedFile, chunk_rows: int, usecols: list[str] | None = None,
                ) -> Iterator[tuple[int, pd.DataFrame, float]]:
    """(file row number of the chunk's first row, the rows as text, fraction of the file read).

    Fully empty rows are dropped; the row numbers of the others stay those of the file (as a
    spreadsheet numbers them, header and title lines included). ``usecols`` (in file order)
    limits the columns returned.
    """
    if opened.kind == "xlsx":
        for chunk, first, done in _xlsx_chunks(opened, chunk_rows):
            yield (chunk[usecols] if usecols else chunk), first, done
        return
    with opened.handle() as handle:
        reader = pd.read_csv(handle, sep=opened.delimiter, encoding=opened.encoding,
                             skiprows=opened.header_row, header=0, names=opened.columns,
                             dtype=str, keep_default_na=False, na_filter=False,
                             skip_blank_lines=False, chunksize=chunk_rows,
                             encoding_errors="replace", on_bad_lines="error")
        row = opened.first_data_row
        try:
            for chunk in reader:
                n = len(chunk)
                chunk.index = pd.RangeIndex(row, row + n)
                row += n
                done = min(handle.tell() / opened.size, 1.0) if opened.size else 1.0
                # Columns are dropped after parsing, not with usecols=: pandas would then
                # accept a row with extra fields (an unquoted comma shifting every value).
                chunk = chunk[usecols] if usecols else chunk
                yield _drop_blank(chunk.fillna("")), row - n, done
        except pd.errors.ParserError as exc:
            raise ImportFileError(f"{opened.name} is not a well-formed CSV: {exc}") from None


def _drop_blank(chunk: pd.DataFrame) -> pd.DataFrame:
    # Column by column over the rows still blank: the first column rules out nearly every
    # row, so the rest are stripped for a handful (stripping every cell took 1 s per 1M rows).
    blank = np.ones(len(chunk), bool)
    for j in range(chunk.shape[1]):
        rows = np.flatnonzero(blank)
        if not len(rows):
            return chunk
        blank[rows] = (chunk.iloc[rows, j].str.strip() == "").to_numpy(bool)
    return chunk[~blank] if blank.any() else chunk


def _xlsx_chunks(opened: OpenedFile, chunk_rows: int) -> Iterator[tuple[int, pd.DataFrame, float]]:
    width = len(opened.columns)
    rows: list[list[str]] = []
    first = opened.first_data_row
    for i, row in enumerate(_xlsx_rows(opened.handle, opened.name)):
        if i <= opened.header_row:
            continue
        rows.append((row + [""] * width)[:width])
        if len(rows) == chunk_rows:
            yield _drop_blank(_frame(rows, opened.columns, first)), first, 0.5
            first += len(rows)
            rows = []
    yield _drop_blank(_frame(rows, opened.columns, first)), first, 1.0


def _frame(rows: list[list[str]], columns: list[str], first: int) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns, dtype=object)
    df.index = pd.RangeIndex(first, first + len(rows))
    return df.astype(str) if len(df) else df
