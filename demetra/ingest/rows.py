"""From a chunk of text cells to campaign rows as they will be stored, and the rows rejected
with their file row number, column and reason.

Values the platforms write and that parse here: thousands separators ("1,234.56"), currency
signs ("$1,234"), "--" / "-" / "" for nothing (0), percentages as strings ("12.5%" -> 0.125),
accounting negatives ("(12.50)"), dates in one format per file (detected on the first chunk:
ISO, US, European, "Sep 1, 2026"…). Numbers are read in one style per file: English ("1,234.56")
unless a value proves the file writes a decimal comma and dots for thousands ("12,50",
"1.234,56", or "1.234" impressions, which no count can be); then the importer reads the file
again in that style (``Plan.decimal_comma``), and a file holding proof of both is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from demetra.channels import CHANNEL_ID_FORM, channel_of, names_no_channel
from demetra.errors import NumberStyle
from demetra.ingest.platforms import FIELD_LABELS, normalize_header, result_is_conversion
from demetra.ingest.reader import ImportFileError

DATE_FORMATS: tuple[tuple[str, str], ...] = (
    ("%Y-%m-%d", "YYYY-MM-DD"), ("%m/%d/%Y", "MM/DD/YYYY"), ("%d/%m/%Y", "DD/MM/YYYY"),
    ("%d.%m.%Y", "DD.MM.YYYY"), ("%Y/%m/%d", "YYYY/MM/DD"), ("%b %d, %Y", "Mon D, YYYY"),
    ("%B %d, %Y", "Month D, YYYY"), ("%d %b %Y", "D Mon YYYY"), ("%m/%d/%y", "MM/DD/YY"),
    ("%Y-%m-%d %H:%M:%S", "YYYY-MM-DD hh:mm:ss"),
)
_EMPTY = ("", "--", "-", "—", "n/a", "N/A")
# Removed one by one (plain replaces run in Arrow; a regex ran in Python per value).
_NUMBER_NOISE = (",", "$", "€", "£", "¥", " ", "\u00a0", "\u202f")
MAX_NAME = 255
MAX_ID = 64
MAX_COUNT = 2.0**53
_ROUNDED_ID = r"^[+-]?\d+(\.\d*)?[eE][+-]?\d+$"
COUNT_FIELDS = ("impressions", "clicks", "engagement")
AMOUNT_FIELDS = ("cost", "conversions", "revenue")
# Fields no analytic rests on: a value that is not a count empties the field (stored as 0 and
# counted in a warning) instead of rejecting the row, whose spend and clicks are sound.
OPTIONAL_FIELDS = ("engagement",)
# Outcomes an export may not track at all (a lead-generation account has no revenue).
OUTCOME_FIELDS = ("conversions", "revenue")
# What rejected rows carry, so that what an import leaves out is said in money and clicks.
CARRIED = ("cost", "clicks", "impressions", "conversions", "revenue")
STORED = ("campaign_id", "campaign_name", "channel", "date", "cost", "clicks", "impressions",
          "engagement", "conversions", "revenue")


@dataclass
class Plan:
    """How a file's columns become campaign rows."""

    platform: str  # a platform key, or "generic"
    label: str
    mapping: dict[str, str]  # field (or date_end / campaign_type / currency) -> file column
    channel: str | None  # the channel of rows the file does not say it for
    default_channel: str | None
    prefix_ids: bool  # platform ids are only unique per platform: prefix the channel
    campaign: str | None = None  # the campaign of every row, for a file without a campaign column
    # The fix for a row of several days, in the platform's words (diagnose.by_day).
    by_day: str = "export the report broken down by day"
    decimal_comma: bool = False  # "1.234,56": dots group thousands, a comma starts decimals
    # The channels one platform campaign can be stored on (demetra.ingest.identity): Meta's
    # breakdown splits a campaign over them, Google's Campaign type routes it to one.
    family: tuple[str, ...] = ()
    breakdown: bool = False
    channel_stated: bool = True  # False: the rows' channel is the platform's default


@dataclass
class ParseState:
    """What the first chunk decides for the whole file."""

    date_format: str | None = None
    warnings: list[str] = field(default_factory=list)
    currencies: set[str] = field(default_factory=set)
    # optional field -> [values emptied, the first such value]
    emptied: dict[str, list] = field(default_factory=dict)
    # rows whose "results" are of a type that is no conversion -> [rows, {type: rows}]
    not_conversions: list = field(default_factory=lambda: [0, {}])
    rows_seen: bool = False  # a chunk was parsed (the next is not the file's first)


@dataclass
class Chunk:
    rows: pd.DataFrame  # STORED columns, accepted rows only
    rejects: list[dict]  # row, column, value, reason
    rejected: int  # rows rejected (a row may have several reasons)
    skipped: int  # summary ("Total …") rows
    # CARRIED sums over the rejected rows (of the values that parsed)
    rejected_totals: dict[str, float] = field(default_factory=dict)
    # rejected rows whose spend is no sound amount (unreadable, negative): not in the sums
    spend_unknown: int = 0


_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
# Commas that separate thousands (or India's lakhs: twos, then a three). Any other comma is a
# decimal comma ("12,50", "1.234,56"): dropping it would read 1250 and 1.23456.
_THOUSANDS = r"^[+-]?\(?[+-]?(\d{1,3}(,\d{3})+|\d{1,2}(,\d{2})+,\d{3})(\.\d*)?\)?%?$"


# "1.234" or "1.234.567": thousands grouped with dots. As a count it proves the style, since a
# count cannot be 1.234; "1.000" proves nothing (it is a whole number either way).
_DOT_THOUSANDS = r"^[+-]?\d{1,3}(\.\d{3})+$"
_MANY_DOTS = r"^[+-]?\d{1,3}(\.\d{3}){2,}(,\d*)?$"
# The decimal-comma style: "1.234,56", "1234,5", "1.234" (after spaces and signs are removed).
_COMMA_STYLE = r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$"
# What only the English style writes: a decimal point ("12.5", "1,234.56").
_POINT_STYLE = r"^[+-]?(\d{1,3}(,\d{3})+|\d*)\.\d+$"


def _plain_numbers(text: pd.Series) -> pd.Series:
    """Plain numbers ("1234.5", "-2e3") parsed in Arrow, several times faster than
    pd.to_numeric; NaN for anything else (decorated numbers are cleaned by the caller)."""
    arr = pa.array(text, type=pa.string())
    plain = pc.match_substring_regex(arr, _PLAIN_NUMBER)
    cast = pc.cast(pc.if_else(plain, arr, pa.scalar("NaN")), pa.float64())
    return pd.Series(cast.to_numpy(zero_copy_only=False), index=text.index)


def _numbers(text: pd.Series, *, count: bool = False, decimal_comma: bool = False
             ) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(values, unparseable mask, other-style mask): the values that prove the file writes
    numbers in the other style are marked, not read."""
    t = text.str.strip()
    empty = t.isin(_EMPTY)
    if decimal_comma:
        return _comma_numbers(t, empty, count)
    values = _plain_numbers(t.where(~empty, "0"))
    todo = values.isna()
    comma = pd.Series(False, index=t.index)
    if count:
        fraction = values.notna() & (values % 1 != 0)
        if fraction.any():
            comma[fraction] = t[fraction].str.match(_DOT_THOUSANDS)
    if todo.any():
        cleaned = t[todo]
        for noise in _NUMBER_NOISE:
            if noise != ",":
                cleaned = cleaned.str.replace(noise, "", regex=False)
        comma[todo] = ((cleaned.str.contains(",", regex=False) & ~cleaned.str.match(_THOUSANDS))
                       | cleaned.str.match(_MANY_DOTS))
        cleaned = cleaned.str.replace(",", "", regex=False)
        pct = cleaned.str.endswith("%")
        cleaned = cleaned.str.rstrip("%")
        paren = cleaned.str.startswith("(") & cleaned.str.endswith(")")
        cleaned = cleaned.where(~paren, "-" + cleaned.str.slice(1, -1))
        parsed = pd.to_numeric(cleaned, errors="coerce").astype(float)
        values[todo] = parsed.where(~pct, parsed / 100)
    bad = (values.isna() | ~np.isfinite(values.fillna(0))) & ~comma
    return values, bad, comma


def _comma_numbers(t: pd.Series, empty: pd.Series, count: bool
                   ) -> tuple[pd.Series, pd.Series, pd.Series]:
    """The decimal-comma style ("1.234,56", "1 234,56", "(12,50)", "12,5%"); a value only the
    English style writes ("12.5", "1,234.56", a count "1,234") is marked as the other style."""
    cleaned = t.where(~empty, "0")
    for noise in _NUMBER_NOISE:
        if noise != ",":
            cleaned = cleaned.str.replace(noise, "", regex=False)
    pct = cleaned.str.endswith("%")
    cleaned = cleaned.str.rstrip("%")
    paren = cleaned.str.startswith("(") & cleaned.str.endswith(")")
    cleaned = cleaned.where(~paren, "-" + cleaned.str.slice(1, -1))
    fits = cleaned.str.match(_COMMA_STYLE)
    plain = cleaned.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    values = pd.to_numeric(plain.where(fits), errors="coerce").astype(float)
    values = values.where(~pct, values / 100)
    other = ~fits & cleaned.str.match(_POINT_STYLE)
    if count:
        other |= fits & cleaned.str.contains(",", regex=False) & (values % 1 != 0)
    bad = (values.isna() | ~np.isfinite(values.fillna(0))) & ~other
    return values, bad, other


def detect_date_format(values: pd.Series) -> str | None:
    """The format most of the non-empty values parse with (the earlier format on a tie)."""
    sample = values[values.str.strip() != ""].head(5000)
    if sample.empty:
        return None
    best, best_n = None, 0
    for fmt, _ in DATE_FORMATS:
        n = int(pd.to_datetime(sample, format=fmt, errors="coerce").notna().sum())
        if n > best_n:
            best, best_n = fmt, n
    return best


# Formats that read the same text as different days ("03/04/2026": March 4 or April 3).
DAY_MONTH_SWAP = {"%m/%d/%Y": "%d/%m/%Y", "%d/%m/%Y": "%m/%d/%Y"}


def decide_date_format(chunks: Iterable[pd.Series]) -> tuple[str | None, str | None]:
    """(the file's date format, a warning or None) from its date column, chunk by chunk.

    The first chunk gives the format; when it is MM/DD or DD/MM and every date of the chunk
    reads both ways, the next chunks are read until a date settles it (13/04/2026). A file whose
    every date reads both ways is read the way that makes its days the closest together (a
    daily report covers consecutive days), with a warning.
    """
    fmt: str | None = None
    undecided: set[str] = set()
    for values in chunks:
        values = values.astype(str).str.strip()
        values = values[~values.isin(_EMPTY)]
        if fmt is None:
            fmt = detect_date_format(values)
            if fmt not in DAY_MONTH_SWAP:
                return fmt, None
        one = pd.to_datetime(values, format=fmt, errors="coerce").notna()
        other = pd.to_datetime(values, format=DAY_MONTH_SWAP[fmt], errors="coerce").notna()
        if (one & ~other).any() or (other & ~one).any():
            only_one, only_other = int((one & ~other).sum()), int((other & ~one).sum())
            return (fmt if only_one >= only_other else DAY_MONTH_SWAP[fmt]), None
        undecided.update(values[one].unique().tolist())
    if fmt is None or not undecided:
        return fmt, None
    sample = pd.Series(sorted(undecided))

    def spread(f: str) -> pd.Timedelta:
        dates = pd.to_datetime(sample, format=f)
        return dates.max() - dates.min()

    chosen = min((fmt, DAY_MONTH_SWAP[fmt]), key=spread)
    example = sample.iloc[0]
    day = pd.to_datetime(example, format=chosen)
    return chosen, (f"every date fits both {_format_name(fmt)} and "
                    f"{_format_name(DAY_MONTH_SWAP[fmt])}: they are read as "
                    f"{_format_name(chosen)} ({example} is {day.day} {day:%B %Y}), which keeps the "
                    "report's days together; check the date span")


def _format_name(fmt: str) -> str:
    return dict(DATE_FORMATS).get(fmt, fmt)


def _check_span(dates: pd.Series, end_text: pd.Series, fmt: str | None, plan: Plan,
                rejects: _Rejects) -> None:
    """A row that ends on another day than it starts covers several days: it is never stored
    as its first day, so the file is refused; an end that does not parse (or comes before the
    start) rejects its row, since its span is unknown."""
    m = plan.mapping
    ends = (pd.to_datetime(end_text, format=fmt, errors="coerce") if fmt is not None
            else pd.Series(pd.NaT, index=end_text.index, dtype="datetime64[ns]")).dt.normalize()

    def end_reason(value: str) -> str:
        if not value:
            return "the end date is empty, so the days the row covers are unknown"
        other = _other_format(value, fmt) if fmt else None
        return (f"mixed date formats: this end date is {other}, the file's dates are "
                f"{_format_name(fmt)}" if other else  # type: ignore[arg-type]
                f"unparseable end date '{value}': the days the row covers are unknown")

    rejects.add(dates.notna() & ends.isna(), m["date_end"], end_text, end_reason)
    rejects.add(ends < dates, m["date_end"], end_text, "the row ends before it starts")
    several = dates.notna() & ends.notna() & (ends > dates)
    if not several.any():
        return
    spans = (ends[several] - dates[several]).dt.days + 1
    row = several.idxmax()
    when = (f"{dates[row]:%Y-%m-%d} to {ends[row]:%Y-%m-%d}, from “{m['date']}” to "
            f"“{m['date_end']}”")
    dated = dates.notna() & ends.notna()
    what = (f"each row covers {spans.iloc[0]:,} days ({when})"
            if several[dated].all() and spans.nunique() == 1
            else f"row {row} covers {spans[row]:,} days ({when})")
    raise ImportFileError(f"{what}: a row of several days cannot be stored as one day, so nothing "
                          f"was imported; {plan.by_day}")


def _other_format(value: str, fmt: str) -> str | None:
    for other, label in DATE_FORMATS:
        if other != fmt and pd.notna(pd.to_datetime(value, format=other, errors="coerce")):
            return label
    return None


class _Rejects:
    def __init__(self, index: pd.Index, limit: int) -> None:
        self.mask = pd.Series(False, index=index)
        self.items: list[dict] = []
        self.limit = limit

    def add(self, mask: pd.Series, column: str, values: pd.Series, reason) -> None:
        mask = mask & ~self.mask  # one reason per row: the first problem found
        if not mask.any():
            return
        self.mask |= mask
        room = self.limit - len(self.items)
        if room <= 0:
            return
        for row, value in values[mask].head(room).items():
            text = str(value)
            self.items.append({"row": int(row), "column": column,
                               "value": text if len(text) <= 80 else text[:77] + "…",
                               "reason": reason(text) if callable(reason) else reason})


def normalize(chunk: pd.DataFrame, plan: Plan, state: ParseState, *,
              reject_limit: int = 1000) -> Chunk:
    """Parse and check one chunk; rows are indexed by their file row number."""
    m = plan.mapping

    def col(name: str) -> pd.Series:
        # PostgreSQL text cannot hold NUL; a stray one must not fail the whole import.
        return chunk[m[name]].astype(str).str.replace("\x00", "", regex=False).str.strip()

    # Summary rows: Google Ads' "Total: Account", "Total: Campaigns"…, TikTok's "Total of 3
    # results" (in the first column, with no date), or rows without date and campaign (the
    # totals line some exports end with). A campaign called "Totally…" on a dated row is data.
    first = chunk.iloc[:, 0].astype(str).str.strip().str.casefold()
    date_text = col("date")
    names = (col("campaign_name") if "campaign_name" in m
             else pd.Series(plan.campaign or "", index=chunk.index))
    ids = col("campaign_id") if "campaign_id" in m else pd.Series("", index=chunk.index)
    ids = ids.where(~ids.isin(_EMPTY), "")
    undated = date_text.isin(_EMPTY) | date_text.str.casefold().str.startswith("total")
    summary = (first.str.startswith("total") & undated) | (
        (date_text == "") & (names == "") & (ids == ""))
    if plan.platform == "meta" and not state.rows_seen and len(chunk) and (
            names.iloc[0] == ids.iloc[0] == ""):
        # Ads Manager's summary row (the account's totals) comes first, dated, with no campaign.
        summary.iloc[0] = True
    state.rows_seen = True
    skipped = int(summary.sum())
    if skipped:
        chunk, date_text, names, ids = (x[~summary] for x in (chunk, date_text, names, ids))
    rejects = _Rejects(chunk.index, reject_limit)

    # Dates: one format per file.
    if state.date_format is None:
        state.date_format = detect_date_format(date_text)
    fmt = state.date_format
    if fmt is None:
        dates = pd.Series(pd.NaT, index=chunk.index, dtype="datetime64[ns]")
    else:
        dates = pd.to_datetime(date_text, format=fmt, errors="coerce")
    dates = dates.dt.normalize()

    def date_reason(value: str) -> str:
        if not value:
            return "the date is empty"
        other = _other_format(value, fmt) if fmt else None
        if other:
            return (f"mixed date formats: this date is {other}, the file's dates are "
                    f"{_format_name(fmt)}")  # type: ignore[arg-type]
        return f"unparseable date '{value}'"

    rejects.add(dates.isna(), m["date"], date_text, date_reason)
    out_of_range = dates.notna() & ((dates.dt.year < 2000) | (dates.dt.year > 2100))
    rejects.add(out_of_range, m["date"], date_text, "the date is not between 2000 and 2100")
    if "date_end" in m:
        _check_span(dates, col("date_end"), fmt, plan, rejects)

    # Campaign.
    rejects.add((names == "") & (ids == ""), m.get("campaign_name") or m.get("campaign_id", ""),
                names, "the campaign name and id are both empty")
    rejects.add(names.str.len() > MAX_NAME, m.get("campaign_name", ""), names,
                f"the campaign name is longer than {MAX_NAME} characters")
    if "campaign_id" in m:
        # A spreadsheet shows an 18-digit id as 1.2021E+17: different campaigns would share it.
        rounded = ids.str.match(_ROUNDED_ID)
        rejects.add(rounded, m["campaign_id"], ids,
                    lambda v: f"the campaign id '{v}' was rounded by a spreadsheet: export the "
                              "report again and import it without opening it in Excel")

    # Numbers.
    values: dict[str, pd.Series] = {}
    unread_cost = pd.Series(False, index=chunk.index)
    for name in (*AMOUNT_FIELDS, *COUNT_FIELDS):
        if name not in m:
            # Revenue or conversions the file has no column for are not tracked (NULL), which
            # is not a zero; a count it does not have (engagement) is simply 0.
            values[name] = pd.Series(np.nan if name in OUTCOME_FIELDS else 0.0,
                                     index=chunk.index)
            continue
        text = col(name)
        number, bad, other = _numbers(text, count=name in COUNT_FIELDS,
                                      decimal_comma=plan.decimal_comma)
        if other.any():
            # Every number of the file is read in the wrong style, those before this one too
            # ("1.234" read as 1.234): the whole file is read again, not just this row.
            row, value = next(iter(text[other].items()))
            raise NumberStyle(row, m[name], value, not plan.decimal_comma)
        label = FIELD_LABELS[name].split(" (")[0].lower()
        if name in OPTIONAL_FIELDS:
            unusable = bad | (number < 0) | (number % 1 != 0) | (number > MAX_COUNT)
            if unusable.any():
                seen = state.emptied.setdefault(name, [0, text[unusable].iloc[0]])
                seen[0] += int(unusable.sum())
            values[name] = number.where(~unusable, 0.0).fillna(0.0)
            continue
        rejects.add(bad, m[name], text, lambda v, label=label: f"{label} '{v}' is not a number")
        negative = number < 0
        rejects.add(negative, m[name], text,
                    "negative spend" if name == "cost" else f"negative {label}")
        if name in COUNT_FIELDS:
            rejects.add(number.notna() & (number % 1 != 0), m[name], text,
                        f"{label} must be a whole number")
            # Beyond 2**53 a float is no longer an exact count, and past 2**63 the int64 cast
            # wraps round to a negative number.
            rejects.add(number > MAX_COUNT, m[name], text,
                        lambda v, label=label: f"{label} '{v}' is too large")
        if name == "cost":
            unread_cost = number.isna()
        values[name] = number.fillna(0.0)
    if "result_type" in m and "conversions" in m:
        # Meta's "Results" count whatever the campaign optimises for: link clicks and reach
        # are not conversions, so those rows do not track any.
        kinds = col("result_type")
        verdict = {k: result_is_conversion(k) for k in kinds.unique()}
        other = ~kinds.map(verdict).astype(bool)
        if other.any():
            values["conversions"] = values["conversions"].where(~other)
            seen = state.not_conversions
            seen[0] += int(other.sum())
            for kind, n in kinds[other].value_counts().items():
                seen[1][kind] = seen[1].get(kind, 0) + int(n)
    too_many = values["clicks"] > values["impressions"]
    if "clicks" in m:
        rejects.add(too_many, m["clicks"], col("clicks"),
                    lambda v: f"clicks ({v}) exceed impressions")

    # Channel.
    channel = _channels(chunk, plan, rejects)

    if "currency" in m:
        state.currencies.update(x for x in col("currency").unique() if x
                                and x not in _EMPTY)
    currency = normalize_header(m["cost"])[1] if "cost" in m else None
    if currency:
        state.currencies.add(currency)

    campaign_id = _campaign_ids(channel, names, ids, plan.prefix_ids)
    rejects.add(campaign_id.str.len() > MAX_ID, m.get("campaign_id", m.get("campaign_name", "")),
                ids, f"the campaign id is longer than {MAX_ID - 12} characters")

    keep = ~rejects.mask
    # Only the values that parsed as sound amounts count (a negative or absurd one does not).
    def sound(v: pd.Series) -> pd.Series:
        return (v >= 0) & (v <= MAX_COUNT)

    carried = {k: float(values[k][rejects.mask].where(sound, 0.0).sum()) for k in CARRIED}
    spend_unknown = int((unread_cost | ~sound(values["cost"]))[rejects.mask].sum())
    rows = pd.DataFrame({
        "campaign_id": campaign_id[keep],
        "campaign_name": names.where(names != "", ids)[keep],
        "channel": channel[keep],
        "date": dates[keep],
        "cost": values["cost"][keep],
        "clicks": values["clicks"][keep].astype("int64"),
        "impressions": values["impressions"][keep].astype("int64"),
        "engagement": values["engagement"][keep].astype("int64"),
        "conversions": values["conversions"][keep],
        "revenue": values["revenue"][keep],
    })
    return Chunk(rows, rejects.items, int(rejects.mask.sum()), skipped, carried, spend_unknown)


def _channels(chunk: pd.DataFrame, plan: Plan, rejects: _Rejects) -> pd.Series:
    m = plan.mapping
    fallback = plan.channel or plan.default_channel
    if "channel" in m:
        text = chunk[m["channel"]].astype(str).str.strip()
        uniques = text.unique()
        # A channel no alias knows is its own ("Quora Ads" -> quora_ads), not a rejected row.
        lookup = {u: fallback if names_no_channel(u) else channel_of(u) for u in uniques}
        channel = text.map(lookup)
        rejects.add(channel.isna(), m["channel"], text,
                    lambda v: ("the channel is empty: choose the channel of such rows (--channel)"
                               if names_no_channel(v) else
                               f"the channel '{v}' makes no channel id ({CHANNEL_ID_FORM}): "
                               "name it shorter in the file"))
        return channel.fillna("")
    if "campaign_type" in m:
        video = chunk[m["campaign_type"]].astype(str).str.casefold().str.contains("video")
        base = plan.channel if plan.channel and plan.channel != "youtube" else "google_ads"
        return pd.Series(np.where(video, "youtube", base), index=chunk.index)
    return pd.Series(fallback, index=chunk.index)


def derived_id(channel: str, name: str) -> str:
    # Whitespace is collapsed so that "Brand  Search" and "Brand Search" stay one campaign.
    key = f"{channel}\x1f{' '.join(name.split())}".encode()
    return f"{channel.upper()}_{hashlib.sha1(key, usedforsecurity=False).hexdigest()[:12]}"


def _campaign_ids(channel: pd.Series, names: pd.Series, ids: pd.Series,
                  prefix: bool) -> pd.Series:
    """The platform's id where the row has one (prefixed with the channel on platform exports:
    Meta's campaign id is the same on Facebook and Instagram rows), else a stable id derived
    from channel + name, so that re-importing maps to the same campaign."""
    if channel.empty:
        return pd.Series([], index=channel.index, dtype=str)
    has_id = ids != ""
    key = channel + "\x1f" + ids.where(has_id, names) + "\x1f" + has_id.map({True: "1",
                                                                          False: "0"})
    codes, uniques = pd.factorize(key)
    made = []
    for text in uniques:
        ch, value, is_id = text.split("\x1f")
        if is_id == "1":
            made.append(f"{ch.upper()}_{value}" if prefix else value)
        else:
            made.append(derived_id(ch, value))
    return pd.Series(np.asarray(made, dtype=object)[codes], index=channel.index).astype(str)
