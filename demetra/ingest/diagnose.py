"""Why a file cannot be imported as it is, in the words of the platform it comes from.

A refusal names the real cause and the fix: a Google Ads campaign report without the Day segment
is told to add Segments → Time → Day, not that its header "matches no known export"; Meta's empty
export ("No data available.") is told to pick a period in which the campaigns ran; a file of one
campaign without a campaign column is told about ``--campaign NAME``. The platform is recognised
from its marker columns even when a required field is missing (``recognise``), and a few cells of
the file (``head``) tell what the names cannot: whether any column holds dates, whether the rows
are weeks ("Week of May 13, 2024"), whether the export says it holds nothing.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

import pandas as pd

from demetra.ingest.platforms import (
    CAMPAIGN_FIELDS,
    FIELD_LABELS,
    FIELDS,
    PLATFORMS,
    Platform,
    detect,
    normalize_header,
    suggest_mapping,
)
from demetra.ingest.reader import ImportFileError, OpenedFile, iter_chunks
from demetra.ingest.rows import detect_date_format

HEAD_ROWS = 200


@dataclass(frozen=True)
class Words:
    """How a platform's own interface says the fixes."""

    name: str  # as a sentence names it: "Meta wrote …"
    noun: str  # "report" (Google Ads downloads a report) or "export"
    by_day: str  # how to get one row per campaign per day
    again: str  # "download it again"
    columns: str  # where columns are added
    campaign: str  # the campaign column


GENERIC_WORDS = Words("the file", "export", "export it broken down by day (a Day or Date column)",
                      "export it again", "the report's column picker", "a campaign column")
WORDS: dict[str, Words] = {
    "meta": Words("Meta", "export", "break it down by day (Breakdown → By time → Day)",
                  "export it again", "Columns → Customise columns", "“Campaign name”"),
    "google_ads": Words("Google Ads", "report", "add Segments → Time → Day", "download it again",
                        "Columns → Modify columns", "“Campaign”"),
    "tiktok": Words("TikTok", "report",
                    "add the time dimension Day (Analytics → Custom reports → Dimensions)",
                    "export it again",
                    "Custom columns", "“Campaign name”"),
    "linkedin": Words("LinkedIn", "export", "choose the time breakdown Daily", "export it again",
                      "Columns → Customize columns", "“Campaign Name”"),
}

CAMPAIGN_FLAG = ("import it as one campaign you name: --campaign NAME on the command line, or the "
                 "Campaign field on the Data page")
_NO_DATA = re.compile(r"^no (data|results?|rows)( (is )?available| to (show|display))?\W*$", re.I)
_PERIOD_NAME = re.compile(r"^(?:by )?(week|month|quarter|year)\b")
_PERIOD_VALUE = re.compile(r"^(week|month|quarter|year) of\b", re.I)
_PERIODIC = {"week": "weekly", "month": "monthly", "quarter": "quarterly", "year": "yearly"}
# Cost cells written as "NOK267,799.89": Google Ads' downloads of its overview cards and charts.
_CODED_MONEY = re.compile(r"^[A-Z]{3}-?\d[\d,]*(\.\d+)?$")
# The column a date column's span ends in, by the start column's name.
_END_OF = (("starts", "ends"), ("start", "end"), ("start", "stop"), ("from", "to"))
_CAMPAIGN_NAMES = frozenset({"campaign", "campaign name", "campaign_name", "campaign id",
                             "campaign_id", *(n for p in PLATFORMS.values()
                                               for f in CAMPAIGN_FIELDS for n in p.columns.get(f, ()))})


def words(platform_key: str) -> Words:
    return WORDS.get(platform_key, GENERIC_WORDS)


def by_day(platform_key: str) -> str:
    """The fix for rows of several days, in the platform's words."""
    w = words(platform_key)
    return f"{w.by_day} and {w.again}"


def head(opened: OpenedFile, rows: int = HEAD_ROWS) -> pd.DataFrame:
    """The first data rows, every column as text (an empty frame for a header alone)."""
    with contextlib.closing(iter_chunks(opened, rows)) as chunks:
        for raw, _first, _done in chunks:
            if not raw.empty:
                return raw
    return pd.DataFrame(columns=opened.columns)


def _filled(values: pd.Series) -> pd.Series:
    text = values.astype(str).str.strip()
    return text[~text.isin(("", "--", "-", "—"))]


def holds_dates(values: pd.Series) -> bool:
    """True when most of the column's filled cells are dates of one format."""
    text = _filled(values)
    fmt = detect_date_format(text) if not text.empty else None
    return fmt is not None and pd.to_datetime(text, format=fmt, errors="coerce").notna().mean() >= 0.8


def _short(label: str) -> str:
    return label.split(" (")[0]


def known_exports() -> str:
    return ", ".join(_short(p.label) for p in PLATFORMS.values())


def _shown(columns: list[str]) -> str:
    return ", ".join(columns[:12]) + (", …" if len(columns) > 12 else "")


def recognise(columns: list[str], rows: pd.DataFrame) -> Platform | None:
    """The platform whose export this is, even when it lacks a field a row needs (a Google Ads
    report without Day, a Meta export without a campaign column): ``detect``'s choice when every
    field is there, else the platform with at least two of its marker columns and more than any
    other (a cost cell like "NOK1,748.30" counts as a Google Ads marker)."""
    found = detect(columns)
    if found is not None:
        return found
    names = {normalize_header(c)[0] for c in columns}
    coded = any(_filled(rows[c]).str.match(_CODED_MONEY).any() for c in rows.columns)
    scored = []
    for p in PLATFORMS.values():
        markers = sum(1 for m in p.markers if m in names) + (p.key == "google_ads" and coded)
        fields = sum(1 for group in p.columns.values() if names & set(group))
        scored.append(((markers, fields), p))
    scored.sort(key=lambda s: s[0], reverse=True)
    best = scored[0]
    if best[0][0] < 2 or (len(scored) > 1 and scored[1][0] == best[0]):
        return None
    return best[1]


def refuse_empty(opened: OpenedFile, rows: pd.DataFrame) -> None:
    """Refuse an export whose only rows say it holds nothing (Meta's "No data available.")."""
    if rows.empty:
        return
    cells = rows.apply(lambda s: s.astype(str).str.strip())
    first = cells.iloc[:, 0]
    if not ((cells != "").sum(axis=1).le(1) & first.str.match(_NO_DATA)).all():
        return
    found = recognise(opened.columns, rows)
    who = words(found.key).name if found else "the file"
    raise ImportFileError(f"{opened.name}: the export holds no rows ({who} wrote '{first.iloc[0]}'): "
                          "pick a period in which the campaigns ran and export it again")


def _period(columns: list[str], rows: pd.DataFrame) -> tuple[str, str, str] | None:
    """(column, "weekly"…, an example) for a column of weeks, months… ("Week", "Week of May 13")."""
    for column in columns:
        values = _filled(rows[column]) if column in rows else pd.Series(dtype=str)
        example = values.iloc[0] if not values.empty else ""
        match = _PERIOD_NAME.match(normalize_header(column)[0]) or _PERIOD_VALUE.match(example)
        if match:
            return column, _PERIODIC[match.group(1).lower()], example
    return None


def refuse_period(opened: OpenedFile, column: str, rows: pd.DataFrame, platform_key: str) -> None:
    """Refuse a date column of weeks or months (a row of a week is not a day)."""
    found = _period([column], rows)
    if found is not None:
        raise ImportFileError(f"{opened.name} has {_period_text(found)}, not days; "
                              f"{_day_instead(platform_key, found)} and {words(platform_key).again}")


def _period_text(found: tuple[str, str, str]) -> str:
    column, periodic, example = found
    return f"{periodic} rows (column “{column}”" + (f", such as '{example}')" if example else ")")


def _day_instead(platform_key: str, found: tuple[str, str, str]) -> str:
    return f"{words(platform_key).by_day} instead of “{found[0]}”"


def _has_campaign(columns: list[str]) -> bool:
    return any(normalize_header(c)[0] in _CAMPAIGN_NAMES for c in columns)


def _named(names: tuple[str, ...]) -> str:
    return " or ".join(f"“{n[:1].upper()}{n[1:]}”" for n in names)


def _wanted(platform: Platform, name: str) -> str:
    if name in CAMPAIGN_FIELDS:
        names = tuple(n for f in CAMPAIGN_FIELDS for n in platform.columns.get(f, ()))
        return f"campaign (a column named {_named(names)})"
    return f"{FIELD_LABELS[name]} (a column named {_named(platform.columns[name])})"


def _no_dates(columns: list[str], rows: pd.DataFrame) -> bool:
    return not any(holds_dates(rows[c]) for c in columns if c in rows)


def missing_columns(opened: OpenedFile, platform: Platform, missing: list[str],
                    rows: pd.DataFrame) -> ImportFileError:
    """The refusal of a file of ``platform`` that lacks the ``missing`` fields, the gravest cause
    first: no day (a report of totals, or of weeks), then no campaign, then the other columns."""
    w = words(platform.key)
    this = f"{opened.name}: this {_short(platform.label)} {w.noun}"
    columns = opened.columns
    # A campaign column of a name the platform does not write ("Campaign Name" in a Google Ads
    # overview download) is there for the user: only the day is to fix.
    no_campaign = "campaign_name" in missing and not _has_campaign(columns)
    others = [f for f in missing if f not in ("date", "campaign_name")]
    if "date" in missing:
        period = _period(columns, rows)
        if period is not None:
            cause, fix = _period_text(period), _day_instead(platform.key, period)
        elif _no_dates(columns, rows):
            per = "campaign" if _has_campaign(columns) else "line"
            cause, fix = f"no date column, so it has one row per {per} for the whole range", w.by_day
        else:
            cause, fix = f"no {_named(platform.columns['date'])} column", w.by_day
        also = [_wanted(platform, f) for f in others]
        if no_campaign:
            also.insert(0, f"the campaign column {w.campaign} (or name the file's one campaign "
                           "with --campaign NAME)")
        return ImportFileError(
            f"{this} has {cause}" + (" and no campaign column" if no_campaign else "")
            + f"; a daily campaign report is needed: {fix}"
            + (", add " + "; ".join(also) + "," if also else "") + f" and {w.again}")
    if no_campaign:
        return ImportFileError(
            f"{this} has no campaign column ({w.campaign}): {CAMPAIGN_FLAG}; or add the "
            f"campaign column ({w.columns}) and {w.again}"
            + ("; it also lacks " + "; ".join(_wanted(platform, f) for f in others) if others else ""))
    flags = " ".join(f"--map {f}=COLUMN" for f in missing)
    them = "them" if len(missing) > 1 else "it"
    return ImportFileError(
        f"{opened.name} lacks columns a {platform.label} export needs: "
        + "; ".join(_wanted(platform, f) for f in missing)
        + f". Add {them} ({w.columns}) and {w.again}, or, if the file holds {them} under "
        f"{'other names' if len(missing) > 1 else 'another name'}, import it with --platform "
        f"generic {flags}")


def unknown_export(opened: OpenedFile, rows: pd.DataFrame) -> ImportFileError:
    """The refusal of a file no platform is recognised in: what the generic import would take."""
    columns = opened.columns
    known = f"the header matches no known export ({known_exports()})"
    if _no_dates(columns, rows):
        period = _period(columns, rows)
        cause = (f"has {_period_text(period)} and no date column" if period else
                 f"has no date column (its columns are {_shown(columns)}; none holds dates)")
        return ImportFileError(
            f"{opened.name} {cause}: a daily campaign report is needed, one row per campaign per "
            f"day: export the campaigns broken down by day. Also, {known}; a daily file of another "
            "source imports with --platform generic, --map FIELD=COLUMN and --channel C")
    sample = {c: rows[c].astype(str).tolist() for c in rows.columns}
    suggested = {f: c for f, c in suggest_mapping(columns, sample).items() if c}
    needed = [f for f in ("date", "campaign_name", "cost", "impressions", "clicks")
              if f not in suggested and not (f == "campaign_name" and "campaign_id" in suggested)]
    steps = ["--platform generic"]
    if "channel" not in suggested:
        steps.append("--channel C (such as --channel facebook)")
    if needed:
        steps.append("--map FIELD=COLUMN for " + ", ".join(needed)
                     + (" (or --campaign NAME for a file of one campaign)"
                        if "campaign_name" in needed else ""))
    reads = ", ".join(f"{f}={c}" for f, c in suggested.items())
    return ImportFileError(
        f"{opened.name}: {known}; its columns are {_shown(columns)}. Import it with the generic "
        + (f"mapping, which reads {reads}: " if reads else "mapping: ") + " ".join(steps)
        + "; change a field with --map FIELD=COLUMN; on the Data page, choose the platform "
        "“Any CSV”")


def unmapped(opened: OpenedFile, missing: list[str], rows: pd.DataFrame) -> ImportFileError:
    """The refusal of a generic mapping that leaves required fields out."""
    labels = ["campaign name or ID" if f == "campaign_name" else FIELD_LABELS[f] for f in missing]
    hint = ""
    if "date" in missing and _no_dates(opened.columns, rows):
        hint = " (none of its columns holds dates: a daily campaign report is needed)"
    elif "campaign_name" in missing:
        hint = " (or, for a file of one campaign, --campaign NAME)"
    return ImportFileError(f"map a column of {opened.name} to: " + ", ".join(labels) + hint
                           + "; on the command line: " + " ".join(f"--map {f}=COLUMN" for f in missing)
                           + f" (FIELD one of {', '.join(FIELDS)})")


def refuse_campaign(opened: OpenedFile, mapping: dict[str, str], campaign: str | None) -> None:
    """``--campaign`` names the campaign of a file without a campaign column; with one it is
    a mistake (every row would be stored under one campaign), so the file is refused."""
    if not campaign:
        return
    given = [mapping[f] for f in CAMPAIGN_FIELDS if mapping.get(f)]
    if given:
        raise ImportFileError(
            f"{opened.name} has a campaign column (“{given[0]}”): --campaign {campaign!r} is for a "
            "file without one; leave it out, or leave the column out of the mapping with "
            "--platform generic --map campaign_name= --map campaign_id=")


def end_column(columns: list[str], start: str) -> str | None:
    """The column a row's span ends in, for a date column that names a start ("Reporting
    starts" -> "Reporting ends", "date_start" -> "date_stop", "Start Date" -> "End Date")."""
    normalized = {normalize_header(c)[0]: c for c in columns}
    name = normalize_header(start)[0]
    for first, last in _END_OF:
        pattern = re.compile(rf"(?<![a-z]){first}(?![a-z])")
        if pattern.search(name):
            end = normalized.get(pattern.sub(last, name))
            if end is not None and end != start:
                return end
    return None
