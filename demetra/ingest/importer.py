"""Preview and import: one pass over the file in chunks, then (for an import) one transaction.

``preview`` reads the whole file without writing anything and reports what an import would
store: the detected platform, the first rows as stored, the date span, the totals and the
rejected rows. ``import_file`` does the same pass into a staging table and commits all the
accepted rows or none (see ``demetra.ingest.store``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from demetra.config import CHANNELS
from demetra.ingest import store
from demetra.ingest.platforms import (
    CAMPAIGN_FIELDS,
    FIELD_LABELS,
    FIELDS,
    PLATFORM_CHOICES,
    PLATFORM_LABELS,
    PLATFORMS,
    detect,
    missing_fields,
    normalize_header,
    platform_mapping,
    suggest_mapping,
)
from demetra.ingest.reader import ImportFileError, OpenedFile, Source, iter_chunks, open_file
from demetra.ingest.rows import STORED, Chunk, ParseState, Plan, decide_date_format, normalize

Progress = Callable[[float, str], None]
CHUNK_ROWS = 100_000
SAMPLE_ROWS = 20
DATE_SCAN_ROWS = 5000
REJECT_DETAILS = 1000
TOTAL_KEYS = ("cost", "revenue", "clicks", "impressions", "conversions")


@dataclass
class ImportPreview:
    """What an import of the file would store (nothing is written to make it)."""

    file_name: str
    platform: str
    platform_label: str
    columns: list[str]
    mapping: dict[str, str]
    sample: pd.DataFrame  # the first accepted rows, as stored
    rows: int = 0  # data rows read (summary rows not counted)
    accepted: int = 0
    rejected: int = 0
    skipped: int = 0  # summary rows ("Total: …")
    rejects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["row", "column", "value", "reason"]))
    start: dt.date | None = None
    end: dt.date | None = None
    totals: dict[str, float] = field(default_factory=lambda: dict.fromkeys(TOTAL_KEYS, 0.0))
    channels: dict[str, int] = field(default_factory=dict)
    campaigns: int = 0
    combined: int = 0  # accepted rows added to another row of the same campaign and day
    currencies: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        span = f"{self.start} to {self.end}" if self.start else "no dates"
        return (f"{self.file_name}: {self.platform_label}, {self.rows:,} rows "
                f"({self.accepted:,} accepted, {self.rejected:,} rejected, {self.skipped:,} "
                f"summary rows skipped), {self.campaigns:,} campaigns, {span}; spend "
                f"{self.totals['cost']:,.2f}, revenue {self.totals['revenue']:,.2f}, clicks "
                f"{self.totals['clicks']:,.0f}, conversions {self.totals['conversions']:,.2f}")


@dataclass
class ImportResult:
    preview: ImportPreview
    inserted: int
    updated: int
    unchanged: int
    seconds: float

    @property
    def rejected(self) -> int:
        return self.preview.rejected

    def summary(self) -> str:
        return (f"Imported {self.preview.file_name} ({self.preview.platform_label}): "
                f"{self.inserted:,} rows inserted, {self.updated:,} updated, {self.unchanged:,} "
                f"unchanged, {self.rejected:,} rejected, in {self.seconds:.1f} s")


def make_plan(opened: OpenedFile, platform: str = "auto", channel: str | None = None,
              mapping: Mapping[str, str | None] | None = None) -> Plan:
    """Decide how the file's columns become campaign rows; a clear error when they cannot."""
    if platform not in PLATFORM_CHOICES:
        raise ImportFileError(f"unknown platform {platform!r}: use one of "
                              + ", ".join(PLATFORM_CHOICES))
    if channel is not None and channel not in CHANNELS:
        raise ImportFileError(f"unknown channel {channel!r}: use one of {', '.join(CHANNELS)}")
    columns = opened.columns
    if platform == "generic" or (platform == "auto" and mapping):
        # Without a mapping (the command line) the suggested one is used as it is.
        return _generic_plan(opened, channel, mapping or suggest_mapping(columns))
    found = PLATFORMS.get(platform) or detect(columns)
    if found is None:
        shown = ", ".join(columns[:12]) + (", …" if len(columns) > 12 else "")
        raise ImportFileError(
            f"{opened.name}: the header matches no known export (Meta Ads Manager, Google Ads, "
            f"TikTok Ads Manager, LinkedIn Campaign Manager); its columns are {shown}. Choose "
            "the generic import and map the columns to the campaign fields")
    chosen = platform_mapping(found, columns)
    missing = missing_fields(chosen)
    if missing:
        raise ImportFileError(
            f"{opened.name} lacks columns a {found.label} export needs: "
            + "; ".join(_wanted(found.columns[f], f) for f in missing))
    if found.key == "meta" and normalize_header(chosen["date"])[0] == "day":
        # With a Day column, Reporting starts/ends are the whole report's range.
        chosen.pop("date_end", None)
    return Plan(found.key, found.label, chosen, channel, found.default_channel,
                prefix_ids=True)


def _wanted(names: tuple[str, ...], name: str) -> str:
    label = "campaign (name or ID)" if name in CAMPAIGN_FIELDS else FIELD_LABELS[name]
    return f"{label} (a column named " + " or ".join(f"“{n[:1].upper()}{n[1:]}”" for n in names) + ")"


def _generic_plan(opened: OpenedFile, channel: str | None,
                  mapping: Mapping[str, str | None]) -> Plan:
    unknown = [f for f in mapping if f not in FIELDS]
    if unknown:
        raise ImportFileError(f"unknown fields in the mapping: {', '.join(unknown)}")
    chosen = {f: c for f, c in mapping.items() if c}
    absent = [c for c in chosen.values() if c not in opened.columns]
    if absent:
        raise ImportFileError(f"{opened.name} has no column named "
                              + ", ".join(f"“{c}”" for c in absent))
    missing = missing_fields(chosen)
    if missing:
        labels = ["campaign name or ID" if f == "campaign_name" else FIELD_LABELS[f]
                  for f in missing]
        raise ImportFileError(f"map a column of {opened.name} to: " + ", ".join(labels))
    if "channel" not in chosen and channel is None:
        raise ImportFileError("choose the channel of these rows, or map a channel column")
    return Plan("generic", PLATFORM_LABELS["generic"], chosen, channel, None, prefix_ids=False)


class _Tally:
    def __init__(self, preview: ImportPreview, sample_rows: int) -> None:
        self.p = preview
        self.sample_rows = sample_rows
        self.samples: list[pd.DataFrame] = []
        self.sampled = 0
        self.rejects: list[dict] = []
        self.campaigns: set[str] = set()
        self.key_hashes: list[np.ndarray] = []
        self.channels: dict[str, int] = {}

    def add(self, chunk: Chunk, read: int) -> None:
        rows = chunk.rows
        p = self.p
        p.rows += read - chunk.skipped
        p.skipped += chunk.skipped
        p.rejected += chunk.rejected
        p.accepted += len(rows)
        room = REJECT_DETAILS - len(self.rejects)
        self.rejects.extend(chunk.rejects[:max(room, 0)])
        if rows.empty:
            return
        if self.sampled < self.sample_rows:
            self.samples.append(rows.head(self.sample_rows - self.sampled))
            self.sampled += len(self.samples[-1])
        for key in TOTAL_KEYS:
            p.totals[key] += float(rows[key].sum())
        lo, hi = rows["date"].min().date(), rows["date"].max().date()
        p.start = lo if p.start is None else min(p.start, lo)
        p.end = hi if p.end is None else max(p.end, hi)
        self.campaigns.update(rows["campaign_id"].unique().tolist())
        # 8 bytes per row tell whether a campaign-day comes twice (ad-set level exports).
        self.key_hashes.append(pd.util.hash_pandas_object(
            rows[["campaign_id", "date"]], index=False).to_numpy())
        for ch, n in rows["channel"].value_counts().items():
            self.channels[str(ch)] = self.channels.get(str(ch), 0) + int(n)

    def finish(self, state: ParseState, plan: Plan) -> ImportPreview:
        p = self.p
        p.sample = (pd.concat(self.samples, ignore_index=True) if self.samples
                    else pd.DataFrame(columns=list(STORED)))
        if not p.sample.empty:
            p.sample["date"] = p.sample["date"].dt.date
        p.rejects = pd.DataFrame(self.rejects, columns=["row", "column", "value", "reason"])
        p.campaigns = len(self.campaigns)
        if self.key_hashes:
            # Equal keys hash equal, so a count of distinct hashes never misses a repeat.
            p.combined = p.accepted - len(np.unique(np.concatenate(self.key_hashes)))
        if p.combined:
            p.warnings.append(f"{p.combined:,} rows repeat a campaign and day of another row "
                              "(an ad-set or ad level export?): they are added together")
        p.channels = {c: self.channels[c] for c in sorted(self.channels, key=_channel_order)}
        p.warnings.extend(state.warnings)
        p.currencies = sorted(state.currencies)
        if len(p.currencies) > 1:
            p.warnings.append("the file mixes currencies (" + ", ".join(p.currencies) + "); "
                              "amounts are stored as they are, not converted")
        elif p.currencies and p.currencies != ["USD"]:
            p.warnings.append(f"amounts are in {p.currencies[0]}; they are stored as they are, "
                              "not converted")
        if "revenue" not in plan.mapping:
            p.warnings.append("the file has no revenue (conversion value) column: revenue is "
                              "stored as 0, so ROI will show 0 for these rows")
        if "conversions" not in plan.mapping:
            p.warnings.append("the file has no conversions column: conversions are stored as 0")
        if p.rejected > len(self.rejects):
            p.warnings.append(f"{p.rejected:,} rows are rejected; the first "
                              f"{len(self.rejects):,} problems are listed")
        return p


def _channel_order(channel: str) -> int:
    return CHANNELS.index(channel) if channel in CHANNELS else len(CHANNELS)


def _date_format(opened: OpenedFile, plan: Plan, chunk_rows: int) -> tuple[str | None, str | None]:
    """The file's date format, decided before any row is parsed: the first chunk alone could
    fix MM/DD for a DD/MM file whose first days are all 12 or less."""
    column = plan.mapping["date"]
    # A small first chunk: for an unambiguous file (ISO dates) that is all that is read.
    with contextlib.closing(iter_chunks(opened, min(DATE_SCAN_ROWS, chunk_rows), [column])) as it:
        head = [raw[column] for raw, _first, _done in itertools.islice(it, 1)]

    def chunks() -> Iterator[pd.Series]:
        yield from head
        # Still undecided: the whole column (the first rows again, which changes nothing).
        with contextlib.closing(iter_chunks(opened, chunk_rows, [column])) as rest:
            for raw, _first, _done in rest:
                yield raw[column]

    return decide_date_format(chunks())


def _scan(opened: OpenedFile, plan: Plan, *, chunk_rows: int, sample_rows: int,
          progress: Progress | None, sink: Callable[[pd.DataFrame], None] | None,
          share: float) -> ImportPreview:
    preview = ImportPreview(opened.name, plan.platform, plan.label, opened.columns,
                            dict(plan.mapping), pd.DataFrame())
    tally = _Tally(preview, sample_rows)
    state = ParseState()
    state.date_format, warning = _date_format(opened, plan, chunk_rows)
    if warning:
        state.warnings.append(warning)
    # Only the mapped columns (and the first, where summary rows say "Total") are kept.
    wanted = {opened.columns[0], *plan.mapping.values()}
    usecols = [c for c in opened.columns if c in wanted]
    pending: Future | None = None
    with ThreadPoolExecutor(max_workers=1) as writer:
        for raw, _first, done in iter_chunks(opened, chunk_rows, usecols):
            if raw.empty:
                continue
            chunk = normalize(raw, plan, state, reject_limit=REJECT_DETAILS)
            tally.add(chunk, len(raw))
            if sink is not None and not chunk.rows.empty:
                # The database stages one chunk while the next is parsed (the drivers release the
                # GIL); waiting for the previous one first keeps at most two chunks in memory.
                if pending is not None:
                    pending.result()
                pending = writer.submit(sink, chunk.rows)
            if progress:
                progress(done * share, f"Read {preview.rows:,} rows ({preview.rejected:,} rejected)")
        if pending is not None:
            pending.result()
    result = tally.finish(state, plan)
    if result.rows == 0:
        raise ImportFileError(f"{opened.name} has a header but no data rows")
    return result


def preview(source: Source, *, platform: str = "auto", channel: str | None = None,
            mapping: Mapping[str, str | None] | None = None, name: str | None = None,
            sample_rows: int = SAMPLE_ROWS, chunk_rows: int = CHUNK_ROWS,
            progress: Progress | None = None) -> ImportPreview:
    """Read the whole file and report what an import would store; writes nothing."""
    opened = open_file(source, name=name)
    plan = make_plan(opened, platform, channel, mapping)
    return _scan(opened, plan, chunk_rows=chunk_rows, sample_rows=sample_rows,
                 progress=progress, sink=None, share=1.0)


def import_file(engine: sa.Engine, source: Source, *, platform: str = "auto",
                channel: str | None = None, mapping: Mapping[str, str | None] | None = None,
                name: str | None = None, chunk_rows: int = CHUNK_ROWS,
                progress: Progress | None = None) -> ImportResult:
    """Import every accepted row in one transaction (all or none) and refresh the rollups.

    Rows are upserted on (campaign_id, date): the same file twice changes nothing, a later
    overlapping export updates the overlap and adds the rest. Raises ``ImportFileError`` when
    the file cannot be read or every row is rejected; database errors propagate after the
    rollback.
    """
    t0 = time.perf_counter()
    opened = open_file(source, name=name)
    plan = make_plan(opened, platform, channel, mapping)
    with store.staging(engine) as conn:
        parts = store.RollupParts()

        def sink(rows: pd.DataFrame) -> None:
            parts.add(rows)
            store.stage(conn, rows)

        result = _scan(opened, plan, chunk_rows=chunk_rows, sample_rows=SAMPLE_ROWS,
                       progress=progress, sink=sink, share=0.6)
        if result.accepted == 0:
            reasons = "; ".join(f"row {r['row']}: {r['reason']}"
                                for r in result.rejects.head(3).to_dict("records"))
            raise ImportFileError(f"every row of {opened.name} was rejected "
                                  f"({result.rejected:,} rows), nothing was imported: {reasons}")
        if progress:
            progress(0.65, f"Writing {result.accepted:,} rows")
        written = store.upsert(conn, result.start, result.end,  # type: ignore[arg-type]
                               keys=result.accepted - result.combined,
                               grouped=result.combined > 0, parts=parts)
        if progress:
            progress(1.0, "Done")
    return ImportResult(result, written.inserted, written.updated, written.unchanged,
                        time.perf_counter() - t0)
