"""Which stored campaign a file's campaign is, when the same campaigns come in another shape.

A campaign's id is the platform's id where the file has one, else one derived from its channel
and name (``rows.derived_id``). Exports of the same account differ in what they say, and each
difference would otherwise make a second campaign and double the overlap:

- with or without the Campaign ID column: a campaign without an id is the stored one of the same
  name on its channel, and a stored campaign that had no id takes the platform's id when a file
  brings it (``rekeys``);
- with or without Google's Campaign type, which routes video campaigns to YouTube: a Google
  campaign lives on one channel of google_ads/youtube, so it is matched across both, and the
  channel a file states wins over the one a file without the type defaulted to;
- with or without Meta's Platform breakdown: a campaign is split over Facebook and Instagram
  rows, so a file without the breakdown brings the totals of that split (``splits``), which the
  importer compares day by day with the stored rows.

Two stored campaigns of one name on one channel cannot be told apart by a file without ids: that
file is refused for them (``ambiguous``), not guessed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from demetra.ingest.rows import Plan, derived_id


def _key_name(name: str) -> str:
    return " ".join(str(name).split())


@dataclass(frozen=True)
class _Stored:
    campaign_id: str
    channel: str
    derived: bool
    raw: str  # the platform's id without the channel prefix ('' when derived)


@dataclass(frozen=True)
class Rekey:
    """A stored campaign that takes another id and/or channel."""

    old_id: str
    new_id: str
    channel: str


@dataclass
class Identities:
    """Resolves the staged (campaign_id, channel) of a file against the stored campaigns."""

    plan: Plan
    stored: Iterable[tuple[str, str, str]] = ()  # (campaign_id, channel, name)
    rekeys: dict[str, Rekey] = field(default_factory=dict)  # old id -> rekey
    # campaign id the file's totals go to -> the stored ids on the family's other channels
    splits: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ambiguous: dict[str, list[str]] = field(default_factory=dict)  # name -> stored ids
    matched_by_name: int = 0
    merged: bool = False  # two of the file's campaigns became one (the upsert must group)
    _conflicts: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._by_id: dict[str, _Stored] = {}
        self._by_raw: dict[str, list[_Stored]] = defaultdict(list)
        self._by_name: dict[str, dict[str, _Stored]] = defaultdict(dict)
        for campaign_id, channel, name in self.stored:
            s = self._by_id.get(campaign_id)
            if s is None:
                derived = campaign_id == derived_id(channel, name)
                prefix = f"{channel.upper()}_"
                raw = "" if derived else (campaign_id[len(prefix):]
                                          if campaign_id.startswith(prefix) else campaign_id)
                s = self._by_id[campaign_id] = _Stored(campaign_id, channel, derived, raw)
                if raw:
                    self._by_raw[raw].append(s)
            self._by_name[_key_name(name)][campaign_id] = s
        self._cache: dict[tuple[str, str], tuple[str, str]] = {}
        self._claims: dict[str, str] = {}  # stored derived id -> the file's id that claimed it
        self._targets: dict[tuple[str, str], tuple[str, str]] = {}

    @property
    def active(self) -> bool:
        return bool(self._by_id)

    def apply(self, rows: pd.DataFrame) -> pd.DataFrame:
        """``rows`` with each campaign's id and channel those of the stored campaign it is."""
        if not self.active or rows.empty:
            return rows
        keys = rows["campaign_id"] + "\x1f" + rows["channel"]
        codes, uniques = pd.factorize(keys)
        first = pd.Series(np.arange(len(rows))).groupby(codes).first().to_numpy()
        names = rows["campaign_name"].to_numpy()
        ids, channels = [], []
        for k, key in enumerate(uniques):
            campaign_id, channel = key.split("\x1f")
            target = self.resolve(campaign_id, channel, names[first[k]])
            ids.append(target[0])
            channels.append(target[1])
        ids_a, ch_a = np.asarray(ids, dtype=object), np.asarray(channels, dtype=object)
        if (ids_a == np.asarray([u.split("\x1f")[0] for u in uniques], dtype=object)).all() and (
                ch_a == np.asarray([u.split("\x1f")[1] for u in uniques], dtype=object)).all():
            return rows
        return rows.assign(campaign_id=ids_a[codes], channel=ch_a[codes])

    def resolve(self, campaign_id: str, channel: str, name: str) -> tuple[str, str]:
        key = (campaign_id, channel)
        if key not in self._cache:
            target = self._resolve(campaign_id, channel, _key_name(name))
            if target != key:
                # Two of the file's campaigns that become one stored campaign are added together.
                other = self._targets.get(target)
                if other is not None and other != key:
                    self.merged = True
                self._targets[target] = key
            self._cache[key] = target
        return self._cache[key]

    # ---------------------------------------------------------------------------------------

    def _family(self, channel: str) -> tuple[str, ...]:
        family = self.plan.family
        return family if channel in family else (channel,)

    def _look(self, channel: str) -> tuple[str, ...]:
        # A routed family (Google) is one campaign on one channel: always matched across it. A
        # breakdown (Meta) splits a campaign over channels: a row that states its channel is that
        # channel's part, a row that does not is the campaign's total.
        if self.plan.breakdown and self.plan.channel_stated:
            return (channel,)
        return self._family(channel)

    def _id_on(self, raw: str, channel: str) -> str:
        return f"{channel.upper()}_{raw}" if self.plan.prefix_ids else raw

    def _resolve(self, campaign_id: str, channel: str, name: str) -> tuple[str, str]:
        look = self._look(channel)
        totals = self.plan.breakdown and not self.plan.channel_stated
        if campaign_id == derived_id(channel, name):
            return self._by_name_only(campaign_id, channel, name, look, totals)
        prefix = f"{channel.upper()}_"
        raw = campaign_id[len(prefix):] if (self.plan.prefix_ids
                                             and campaign_id.startswith(prefix)) else campaign_id
        members = [s for s in self._by_raw.get(raw, []) if s.channel in look]
        if members:
            return self._among(campaign_id, channel, members, totals)
        # Stored without an id (an export without the Campaign ID column): take this id now.
        named = [s for s in self._by_name.get(name, {}).values()
                 if s.derived and s.channel in look]
        if not named:
            return campaign_id, channel
        self.matched_by_name += 1
        if totals and len(named) > 1:
            parts = tuple(self._claim(s, self._id_on(raw, s.channel), s.channel) for s in named)
            return self._split(self._id_on(raw, channel), channel, parts)
        s = named[0] if len(named) == 1 else next(
            (n for n in named if n.channel == channel), named[0])
        target_channel = channel if (self.plan.channel_stated and not self.plan.breakdown) \
            else s.channel
        new_id = self._id_on(raw, target_channel)
        return self._claim(s, new_id, target_channel), target_channel

    def _by_name_only(self, campaign_id: str, channel: str, name: str, look: tuple[str, ...],
                      totals: bool) -> tuple[str, str]:
        members = [s for s in self._by_name.get(name, {}).values() if s.channel in look]
        if not members:
            return campaign_id, channel
        per_channel: dict[str, list[_Stored]] = defaultdict(list)
        for s in members:
            per_channel[s.channel].append(s)
        crowded = [group for group in per_channel.values() if len(group) > 1]
        if crowded:
            self.ambiguous[name] = sorted(s.campaign_id for s in crowded[0])
            return campaign_id, channel
        exact = next((s for s in members if s.campaign_id == campaign_id), None)
        if exact is not None and len(members) == 1:
            return campaign_id, channel
        self.matched_by_name += exact is None
        return self._among(campaign_id, channel, members, totals)

    def _among(self, campaign_id: str, channel: str, members: list[_Stored],
               totals: bool) -> tuple[str, str]:
        """The stored campaign (or split) that the file's ``campaign_id`` on ``channel`` is."""
        if totals and len(members) > 1:
            own = next((s for s in members if s.channel == channel), None)
            target = own.campaign_id if own is not None else campaign_id
            return self._split(target, channel, tuple(s.campaign_id for s in members
                                                      if s is not own))
        exact = next((s for s in members if s.campaign_id == campaign_id), None)
        s = exact or next((m for m in members if m.channel == channel), members[0])
        if s.channel != channel and self.plan.channel_stated and not self.plan.breakdown:
            # Google's Campaign type says YouTube where a file without it said Google Ads.
            self._claim(s, s.campaign_id, channel)
            return s.campaign_id, channel
        return s.campaign_id, s.channel

    def _claim(self, s: _Stored, new_id: str, channel: str) -> str:
        """Give the stored campaign ``s`` the file's id (and channel); a stored campaign two of
        the file's campaigns claim keeps its own (``conflicts``)."""
        if s.campaign_id in self._conflicts:
            return new_id
        claimed = self._claims.get(s.campaign_id)
        if claimed is not None and claimed != new_id:
            self._conflicts.add(s.campaign_id)
            self.rekeys.pop(s.campaign_id, None)
            return new_id
        self._claims[s.campaign_id] = new_id
        if new_id != s.campaign_id or channel != s.channel:
            if new_id != s.campaign_id and new_id in self._by_id:
                return new_id  # both are stored already: leave them as they are
            self.rekeys[s.campaign_id] = Rekey(s.campaign_id, new_id, channel)
        return new_id

    def _split(self, target: str, channel: str, others: tuple[str, ...]) -> tuple[str, str]:
        others = tuple(o for o in others if o != target)
        if others:
            self.splits[target] = others
        return target, channel

    def notes(self) -> list[str]:
        """What the resolution did, for the import's warnings."""
        notes = []
        if self.matched_by_name:
            notes.append(f"{self.matched_by_name:,} of the file's campaigns are stored ones found "
                         "by name (one export has a Campaign ID column and the other not): they "
                         "are updated, not added again")
        if self._conflicts:
            notes.append(f"{len(self._conflicts):,} stored campaigns without an id share their "
                         "name with several campaigns of this file, which has ids: they are "
                         "kept apart from them (" + ", ".join(sorted(self._conflicts)[:3]) + ")")
        return notes
