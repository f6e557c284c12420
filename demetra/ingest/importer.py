"""Preview and import: one pass over the file in chunks, then (for an import) one transaction.

``preview`` reads the whole file without writing anything and reports what an import would
store: the detected platform, the first rows as stored, the date span, the totals and the
rejected rows. ``import_file`` does the same pass into a staging table and commits all the
accepted rows or none (see ``demetra.ingest.store``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import sqlalchemy as sa

from demetra import format as fmt
from demetra.channels import KNOWN_CHANNELS, channel_choice, channel_label, unknown_channel
from demetra.ingest import currency, diagnose, identity, store
from demetra.ingest.platforms import (
    FIELD_LABELS,
    FIELDS,
    PLATFORM_CHOICES,
    PLATFORM_LABELS,
    PLATFORMS,
    missing_fields,
    normalize_header,
    platform_mapping,
    suggest_mapping,
)
from demetra.ingest.reader import ImportFileError, OpenedFile, Source, iter_chunks, open_file
from demetra.ingest.rows import (
    DAY_MONTH_SWAP,
    OUTCOME_FIELDS,
    STORED,
    Chunk,
    NumberStyle,
    ParseState,
    Plan,
    decide_date_format,
    detect_date_format,
    normalize,
)

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
    untracked: list[str] = field(default_factory=list)  # outcomes the file has no column for
    # Set by an import: the file's currency, the database's, and the factor between them.
    currency: str | None = None
    reporting_currency: str | None = None
    exchange_rate: float = 1.0
    # What the rejected rows carry (of their values that parsed): cost, clicks, conversions…
    rejected_totals: dict[str, float] = field(default_factory=lambda: dict.fromkeys(TOTAL_KEYS, 0.0))
    rejected_spend_unknown: int = 0  # rejected rows whose spend is unreadable or negative

    def file_total(self, key: str) -> float:
        """The file's total of ``key``: the rows to store and the rejected ones."""
        return self.totals[key] + self.rejected_totals.get(key, 0.0)

    def rejected_share(self, key: str = "cost") -> float | None:
        total = self.file_total(key)
        return self.rejected_totals.get(key, 0.0) / total if total > 0 else None

    def rejected_note(self) -> str:
        """What the rejected rows carry, in the file's terms ("" when none is rejected)."""
        if not self.rejected:
            return ""
        share = self.rejected_share("cost")
        r = self.rejected_totals
        rows = "1 rejected row carries" if self.rejected == 1 else (
            f"{self.rejected:,} rejected rows carry")
        unknown = self.rejected_spend_unknown
        if unknown == self.rejected:
            spend = "spend that cannot be counted (unreadable or negative: see the reasons)"
        else:
            spend = (f"spend {r['cost']:,.2f}"
                     + (f" ({share:.1%} of the file's)" if share is not None else "")
                     + (f" and {unknown:,} spend value{'s' if unknown != 1 else ''} that cannot "
                        "be counted (unreadable or negative)" if unknown else ""))
        return f"{rows} {spend}, clicks {r['clicks']:,.0f} and conversions {r['conversions']:,.2f}"

    def _outcome(self, key: str, fmt: str) -> str:
        return "not tracked" if key in self.untracked else format(self.totals[key], "," + fmt)

    def stored_note(self) -> str:
        stored = self.totals["cost"] * self.exchange_rate
        if self.exchange_rate == 1.0:
            return f"spend stored {stored:,.2f} of {self.file_total('cost'):,.2f} in the file"
        return (f"spend stored {stored:,.2f} {self.reporting_currency} of "
                f"{self.file_total('cost'):,.2f} {self.currency} in the file (at "
                f"{self.exchange_rate:g} {self.reporting_currency} per {self.currency})")

    def summary(self) -> str:
        span = f"{self.start} to {self.end}" if self.start else "no dates"
        note = self.rejected_note()
        return (f"{self.file_name}: {self.platform_label}, {fmt.rows(self.rows)} "
                f"({self.accepted:,} accepted, {self.rejected:,} rejected, {self.skipped:,} "
                f"summary rows skipped), {self.campaigns:,} campaigns, {span}; spend "
                f"{self.totals['cost']:,.2f}, revenue {self._outcome('revenue', '.2f')}, "
                f"clicks {self.totals['clicks']:,.0f}, conversions "
                f"{self._outcome('conversions', '.2f')}"
                + (f"; {note}" if note else "") + f"; {self.stored_note()}")


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

    def counts(self) -> str:
        """What the import did to the rows, shared by the CLI summary and the Data page."""
        return (f"{fmt.rows(self.inserted)} inserted, "
                f"{self.updated:,} updated, {self.unchanged:,} unchanged, "
                f"{self.rejected:,} rejected")

    def summary(self) -> str:
        return (f"Imported {self.preview.file_name} ({self.preview.platform_label}): "
                f"{self.counts()}, in {self.seconds:.1f} s; {self.preview.stored_note()}")


def make_plan(opened: OpenedFile, platform: str = "auto", channel: str | None = None,
              mapping: Mapping[str, str | None] | None = None,
              campaign: str | None = None) -> Plan:
    """Decide how the file's columns become campaign rows; when they cannot, an error that
    names the cause and the fix in the platform's words (``demetra.ingest.diagnose``).
    ``campaign`` names the one campaign of a file without a campaign column."""
    if platform not in PLATFORM_CHOICES:
        raise ImportFileError(f"unknown platform {platform!r}: use one of "
                              + ", ".join(PLATFORM_CHOICES))
    if channel is not None:
        # A known channel by any of its names ("Bing" -> microsoft_ads), or a channel id.
        chosen_channel = channel_choice(channel)
        if chosen_channel is None:
            raise ImportFileError(unknown_channel(channel))
        channel = chosen_channel
    columns = opened.columns
    head = diagnose.head(opened)
    diagnose.refuse_empty(opened, head)
    if platform == "generic" or (platform == "auto" and mapping):
        # The given mapping over the suggested one (the command line's --map names a few).
        return _generic_plan(opened, channel, _over_suggestion(opened, mapping or {}), campaign,
                             head)
    found = PLATFORMS.get(platform) or diagnose.recognise(columns, head)
    if found is None:
        raise diagnose.unknown_export(opened, head)
    chosen = platform_mapping(found, columns)
    diagnose.refuse_campaign(opened, chosen, campaign)
    missing = [f for f in missing_fields(chosen) if not (campaign and f == "campaign_name")]
    if missing:
        raise diagnose.missing_columns(opened, found, missing, head)
    if found.key == "meta" and normalize_header(chosen["date"])[0] == "day":
        # With a Day column, Reporting starts/ends are the whole report's range.
        chosen.pop("date_end", None)
    return Plan(found.key, found.label, chosen, channel, found.default_channel,
                prefix_ids=True, campaign=campaign, by_day=diagnose.by_day(found.key),
                family=found.family, breakdown=found.breakdown,
                channel_stated=(channel is not None or "channel" in chosen
                                or "campaign_type" in chosen))


SAMPLE_FOR_MAPPING = 2000


def sample_values(opened: OpenedFile, rows: int = SAMPLE_FOR_MAPPING) -> dict[str, list[str]]:
    """The first ``rows`` cells of every column, as text: what the mapper looks at."""
    raw = diagnose.head(opened, rows)
    return {c: raw[c].astype(str).tolist() for c in raw.columns}


def _over_suggestion(opened: OpenedFile, given: Mapping[str, str | None]) -> dict[str, str | None]:
    """``given`` (field -> column, None to leave a field out) over the suggested mapping; a
    column the user gave to one field is taken from the field the suggestion gave it to."""
    suggested = suggest_mapping(opened.columns, sample_values(opened))
    taken = {c for c in given.values() if c}
    merged = {f: (None if c in taken else c) for f, c in suggested.items()}
    merged.update(given)
    return merged


def _generic_plan(opened: OpenedFile, channel: str | None, mapping: Mapping[str, str | None],
                  campaign: str | None, head: pd.DataFrame) -> Plan:
    unknown = [f for f in mapping if f not in (*FIELDS, "date_end", "result_type")]
    if unknown:
        raise ImportFileError(f"unknown fields in the mapping: {', '.join(unknown)}")
    chosen = {f: c for f, c in mapping.items() if c}
    absent = [c for c in chosen.values() if c not in opened.columns]
    if absent:
        raise ImportFileError(f"{opened.name} has no column named "
                              + ", ".join(f"“{c}”" for c in absent))
    diagnose.refuse_campaign(opened, chosen, campaign)
    missing = [f for f in missing_fields(chosen) if not (campaign and f == "campaign_name")]
    if missing:
        raise diagnose.unmapped(opened, missing, head)
    diagnose.refuse_period(opened, chosen["date"], head, "generic")
    if "date_end" not in chosen:
        # "Reporting starts" has its "Reporting ends", "date_start" its "date_stop": a row's
        # span is checked whichever columns tell it.
        end = diagnose.end_column(opened.columns, chosen["date"])
        if end is not None:
            chosen["date_end"] = end
    if "channel" not in chosen and channel is None:
        raise ImportFileError("choose the channel of these rows, or map a channel column: "
                              "--channel C (such as --channel facebook) or --map channel=COLUMN "
                              "on the command line, the Channel box on the Data page")
    return Plan("generic", PLATFORM_LABELS["generic"], chosen, channel, None, prefix_ids=False,
                campaign=campaign)


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
        for key, value in chunk.rejected_totals.items():
            if key in p.rejected_totals:
                p.rejected_totals[key] += value
        p.rejected_spend_unknown += chunk.spend_unknown
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
            # Sorted and compared: numpy 2's hash-based np.unique takes 12x longer here.
            keys = np.sort(np.concatenate(self.key_hashes))
            p.combined = p.accepted - (int(np.count_nonzero(keys[1:] != keys[:-1])) + 1
                                       if len(keys) else 0)
        if p.combined:
            repeat = "1 row repeats" if p.combined == 1 else f"{p.combined:,} rows repeat"
            p.warnings.append(f"{repeat} a campaign and day of another row "
                              "(an ad-set or ad level export?): they are added together")
        p.channels = {c: self.channels[c] for c in sorted(self.channels, key=_channel_order)}
        p.warnings.extend(state.warnings)
        for name, (count, example) in state.emptied.items():
            label = FIELD_LABELS[name].lower()
            p.warnings.append(f"{count:,} values of {label} (column “{plan.mapping[name]}”) are not "
                              f"counts (such as '{example}'): the field is left empty (0) in those "
                              "rows, which are imported")
        p.currencies = sorted(state.currencies)
        if len(p.currencies) > 1:
            p.warnings.append("the file mixes currencies (" + ", ".join(p.currencies) + "): "
                              "it cannot be imported as it is; export one file per currency")
        rows, kinds = state.not_conversions
        if rows:
            listed = ", ".join(f"{k} ({fmt.rows(n)})" for k, n in sorted(
                kinds.items(), key=lambda kv: -kv[1])[:4])
            counted = "1 row counts" if rows == 1 else f"{rows:,} rows count"
            p.warnings.append(f"{counted} results that are not conversions ({listed}): their "
                              "conversions are stored as not tracked")
        results = plan.mapping.get("conversions")
        if (results and normalize_header(results)[0] == "results"
                and "result_type" not in plan.mapping):
            p.warnings.append(f"“{results}” is read as conversions, but the file does not say "
                              "what a result is (Meta counts link clicks or reach as results "
                              "for such campaigns): add the Result type column and export it "
                              "again, or map conversions to another column")
        p.untracked = [f for f in OUTCOME_FIELDS if f not in plan.mapping]
        if "revenue" in p.untracked:
            p.warnings.append("the file has no revenue (conversion value) column: revenue is "
                              "stored as not tracked, so ROI shows as not tracked and the pages "
                              "lead with results and cost per result")
        if "conversions" in p.untracked:
            p.warnings.append("the file has no conversions (results) column: conversions are "
                              "stored as not tracked")
        if p.rejected > len(self.rejects):
            are = "1 row is" if p.rejected == 1 else f"{p.rejected:,} rows are"
            p.warnings.append(f"{are} rejected; the first "
                              f"{len(self.rejects):,} problems are listed")
        return p


def _channel_order(channel: str) -> tuple[int, str]:
    # The known channels in their order, then the file's own ones alphabetically.
    return (KNOWN_CHANNELS.index(channel) if channel in KNOWN_CHANNELS
            else len(KNOWN_CHANNELS), channel)


def _new_channels(preview: ImportPreview) -> str | None:
    """A warning naming the channels the file brings that Demetra does not know by name."""
    new = [c for c in preview.channels if c not in KNOWN_CHANNELS]
    if not new:
        return None
    shown = ", ".join(f"{channel_label(c)} ({c}, {fmt.rows(preview.channels[c])})" for c in new[:5])
    return (f"{'these channels are' if len(new) > 1 else 'this channel is'} not among the known "
            f"ones and {'are' if len(new) > 1 else 'is'} stored as named in the file: {shown}"
            + (f" and {len(new) - 5:,} more" if len(new) > 5 else "")
            + "; check the channel column if that is not what it holds")


def _date_format(opened: OpenedFile, plan: Plan, chunk_rows: int) -> tuple[str | None, str | None]:
    """The file's date format, decided before any row is parsed, from every date column of the
    file together: the first chunk alone could fix MM/DD for a DD/MM file whose first days are
    all 12 or less, and the start column alone for one whose "Reporting ends" says 31/01/2025."""
    parsed = [plan.mapping[f] for f in ("date", "date_end") if f in plan.mapping]
    # A small first chunk: for an unambiguous file (ISO dates) that is all that is read.
    with contextlib.closing(iter_chunks(opened, min(DATE_SCAN_ROWS, chunk_rows))) as it:
        first = next((raw for raw, _first, _done in it), pd.DataFrame(columns=opened.columns))
    fmt = detect_date_format(_stacked(first, parsed))
    # Day first or month first: any date of the file settles it ("Starts" 17/12/2024 as well).
    columns = parsed + ([c for c in opened.columns if c not in parsed
                         and _same_dates(first[c], fmt)] if fmt in DAY_MONTH_SWAP else [])

    def chunks() -> Iterator[pd.Series]:
        yield _stacked(first, columns)
        # Still undecided: the whole file (the first rows again, which changes nothing).
        with contextlib.closing(iter_chunks(opened, chunk_rows, columns)) as rest:
            for raw, _first, _done in rest:
                yield _stacked(raw, columns)

    return decide_date_format(chunks())


def _stacked(chunk: pd.DataFrame, columns: list[str]) -> pd.Series:
    return pd.concat([chunk[c] for c in columns], ignore_index=True) if columns else pd.Series(
        dtype=str)


def _same_dates(values: pd.Series, fmt: str) -> bool:
    """True when the column's filled cells are mostly dates that read as ``fmt`` or its swap."""
    text = values.astype(str).str.strip()
    text = text[text != ""]
    if text.empty or not text.str.contains("/", regex=False).any():
        return False
    either = (pd.to_datetime(text, format=fmt, errors="coerce").notna()
              | pd.to_datetime(text, format=DAY_MONTH_SWAP[fmt], errors="coerce").notna())
    return bool(either.mean() >= 0.5)


def _scan(opened: OpenedFile, plan: Plan, *, chunk_rows: int, sample_rows: int,
          progress: Progress | None, sink: Callable[[pd.DataFrame], None] | None,
          share: float, stage_rejected: bool = True) -> ImportPreview:
    """Read and check every row, handing the accepted ones to ``sink``; once a row is rejected
    and ``stage_rejected`` is False the import will be refused, so the rest is only read (for
    the totals the refusal states), not handed over."""
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
            try:
                chunk = normalize(raw, plan, state, reject_limit=REJECT_DETAILS)
            except NumberStyle:
                raise
            except ImportFileError as exc:
                # A refusal found in the rows (several days a row, a decimal comma) names the file.
                raise ImportFileError(f"{opened.name}: {exc}") from None
            tally.add(chunk, len(raw))
            if sink is not None and not chunk.rows.empty and (stage_rejected
                                                               or not preview.rejected):
                # The database stages one chunk while the next is parsed (the drivers release the
                # GIL); waiting for the previous one first keeps at most two chunks in memory.
                if pending is not None:
                    pending.result()
                pending = writer.submit(sink, chunk.rows)
            if progress:
                progress(done * share, f"Read {fmt.rows(preview.rows)} ({preview.rejected:,} rejected)")
        if pending is not None:
            pending.result()
    result = tally.finish(state, plan)
    new_channels = _new_channels(result)
    if new_channels:
        result.warnings.append(new_channels)
    if result.rows == 0:
        raise ImportFileError(f"{opened.name} has a header but no data rows")
    return result


def _scan_in_style(opened: OpenedFile, plan: Plan, *, restart: Callable[[], None] | None = None,
                   **scan) -> ImportPreview:
    """``_scan`` in the English number style, or again in the decimal-comma style when a value
    proves the file writes that (``restart`` first discards what the first pass staged)."""
    try:
        return _scan(opened, plan, **scan)
    except NumberStyle as first:
        proof = first
    if restart is not None:
        restart()
    if scan.get("progress"):
        scan["progress"](0.0, "Reading again with decimal commas")
    try:
        result = _scan(opened, replace(plan, decimal_comma=proof.decimal_comma), **scan)
    except NumberStyle as second:
        raise ImportFileError(
            f"{opened.name} writes numbers both with a decimal comma ({proof.where()}) and with "
            f"a decimal point ({second.where()}), so none of them can be read safely: export "
            "the report again with one number format (English: 1,234.56) and import it "
            "again") from None
    result.warnings.append(
        "numbers are read with a decimal comma and dots for thousands (1.234,56 as 1234.56), "
        f"as the file writes them ({proof.where()})")
    return result


def _resolve_identities(conn: sa.Connection, name: str, identities: identity.Identities,
                        result: ImportPreview) -> tuple[dt.date, dt.date]:
    """Apply what matching the file's campaigns to the stored ones found (before the upsert);
    returns the days whose rollups the import changes."""
    if identities.ambiguous:
        campaign, ids = next(iter(identities.ambiguous.items()))
        raise ImportFileError(
            f"{name} has no Campaign ID column, and {len(ids)} stored campaigns are named "
            f"“{campaign}” ({', '.join(ids)}): which of them its rows are cannot be told, so "
            "nothing was imported. Export the report with the Campaign ID column and import it "
            "again")
    start, end = result.start, result.end
    span = store.rekey(conn, identities.rekeys.values())
    if span is not None:
        start, end = min(start, span[0]), max(end, span[1])  # type: ignore[type-var]
    kept, replaced = store.reconcile_splits(conn, identities.splits)
    result.warnings.extend(identities.notes())
    if kept:
        result.warnings.append(
            f"{kept:,} campaign-days of this file are the totals of campaigns stored broken down "
            "by platform (Facebook, Instagram), and equal them: they are left as they are")
    if replaced:
        result.warnings.append(
            f"{replaced:,} campaign-days of this file are the totals of campaigns stored broken "
            "down by platform, and differ from them: those days now hold the file's totals, no "
            "longer split (import an export broken down by Platform to split them again)")
    return start, end  # type: ignore[return-value]


def preview(source: Source, *, platform: str = "auto", channel: str | None = None,
            mapping: Mapping[str, str | None] | None = None, campaign: str | None = None,
            name: str | None = None,
            sample_rows: int = SAMPLE_ROWS, chunk_rows: int = CHUNK_ROWS,
            progress: Progress | None = None) -> ImportPreview:
    """Read the whole file and report what an import would store; writes nothing."""
    opened = open_file(source, name=name)
    plan = make_plan(opened, platform, channel, mapping, campaign=campaign)
    return _scan_in_style(opened, plan, chunk_rows=chunk_rows, sample_rows=sample_rows,
                          progress=progress, sink=None, share=1.0)


def import_file(engine: sa.Engine, source: Source, *, platform: str = "auto",
                channel: str | None = None, mapping: Mapping[str, str | None] | None = None,
                campaign: str | None = None, name: str | None = None,
                chunk_rows: int = CHUNK_ROWS, progress: Progress | None = None,
                allow_rejects: bool = False, exchange_rate: float | None = None,
                reporting_currency: str | None = None) -> ImportResult:
    """Import every accepted row in one transaction (all or none) and refresh the rollups.

    Rows are upserted on (campaign_id, date): the same file twice changes nothing, a later
    overlapping export updates the overlap and adds the rest. Raises ``ImportFileError`` when
    the file cannot be read, every row is rejected, or some are and ``allow_rejects`` (the
    user's explicit yes to importing without them) is not given, or the file's currency is not
    the database's and no ``exchange_rate`` (reporting currency per unit of the file's) is
    given; database errors propagate after the rollback. The import is recorded (``imports``)
    with its currency and rate.
    """
    t0 = time.perf_counter()
    opened = open_file(source, name=name)
    plan = make_plan(opened, platform, channel, mapping, campaign=campaign)
    stated = currency.currencies_stated(opened, plan, sample_values(opened))
    file_currency = currency.check_not_mixed(opened.name, stated)
    with store.staging(engine) as conn:
        reporting = currency.reporting_for(conn, file_currency, reporting_currency)
        rate = currency.rate_for(opened.name, file_currency, reporting, exchange_rate)
        parts = store.RollupParts()
        identities = identity.Identities(plan, store.stored_campaigns(conn))

        def sink(rows: pd.DataFrame) -> None:
            rows = identities.apply(rows)
            if rate != 1.0:
                rows = rows.assign(cost=rows["cost"] * rate, revenue=rows["revenue"] * rate)
            parts.add(rows)
            store.stage(conn, rows)

        def restart() -> None:
            nonlocal parts
            parts = store.RollupParts()
            store.clear_stage(conn)

        result = _scan_in_style(opened, plan, restart=restart, chunk_rows=chunk_rows,
                                sample_rows=SAMPLE_ROWS, progress=progress, sink=sink, share=0.6,
                                stage_rejected=allow_rejects)
        # A currency that shows only further down the file is caught here (rolled back).
        if currency.check_not_mixed(opened.name, stated | set(result.currencies)) != file_currency:
            currency.rate_for(opened.name, result.currencies[0], reporting, None)
        result.currency, result.reporting_currency, result.exchange_rate = (
            file_currency, reporting, rate)
        if result.accepted == 0:
            reasons = "; ".join(f"row {r['row']}: {r['reason']}"
                                for r in result.rejects.head(3).to_dict("records"))
            raise ImportFileError(f"every row of {opened.name} was rejected "
                                  f"({fmt.rows(result.rejected)}), nothing was imported: {reasons}")
        if result.rejected and not allow_rejects:
            first = result.rejects.iloc[0]
            raise ImportFileError(
                f"{result.rejected_note()}; nothing was imported. The first is row "
                f"{first['row']}, column “{first['column']}”: {first['reason']}. Fix those rows "
                "and import again, or import without them: --allow-rejects on the command line, "
                "“Import without the rejected rows” on the Data page")
        if progress:
            progress(0.65, f"Writing {fmt.rows(result.accepted)}")
        start, end = _resolve_identities(conn, opened.name, identities, result)
        written = store.upsert(conn, start, end, keys=result.accepted - result.combined,
                               grouped=result.combined > 0 or identities.merged, parts=parts)
        import_id = currency.record(
            conn, file_name=opened.name, platform=plan.platform, currency=file_currency,
            reporting=reporting, rate=rate, rows=result.accepted, rejected=result.rejected,
            spend_in_file=result.file_total("cost"), spend_stored=result.totals["cost"] * rate)
        store.record_sources(conn, import_id, file_currency, rate)
        if progress:
            progress(1.0, "Done")
    return ImportResult(result, written.inserted, written.updated, written.unchanged,
                        time.perf_counter() - t0)
