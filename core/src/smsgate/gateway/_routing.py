"""Routes: which channel sends a number, when the sender named none (`[[routes]]`, tried in order).

A route matches a number when, read with the country of one of its channels, the number starts with one of
its `to` prefixes and belongs to one of its `country` codes (each filter only when given). The channels that
read it so are its candidates; the strategy picks one (`failover`: the first whose link is up; `round_robin`:
each in turn; `weighted`: smooth weighted round-robin, so 1,000 messages split as the weights say, give or
take one cycle), and the others follow in the route's order as the message's failover order. A channel whose
link is down is picked only when all are. A tenant's request sees only its own channels in each route.

The link state comes from `link_down(channel)`: the reason a channel cannot send now, or None. The gateway
passes its own (the adapters' `health()`), which link states kept elsewhere may replace (`Gateway.link_down`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import RouteSettings
from ..errors import MessageInvalid
from ..phones import number_region
from ._channels import Channels

__all__ = ["Choice", "LinkDown", "RouteVerdict", "Router"]

LinkDown = Callable[[str], str | None]
"""The reason channel `name`'s link is down now, or None when it is up (or nobody knows)."""


@dataclass(frozen=True, slots=True)
class Choice:
    """Where a routed message goes: route number `route` (from 0), `channel`, the number as it reads it, and the
    channels to fail over to, in order (`order[0]` is `channel`)."""

    route: int
    channel: str
    to: str
    order: tuple[str, ...]


@dataclass(slots=True)
class RouteVerdict:
    """What one route makes of a number (`smsgate route`): whether it matches, why not, and its candidates."""

    index: int
    route: RouteSettings
    matches: bool
    why: str
    candidates: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(channel, the number as it reads it, the reason its link is down or None), in failover order."""
    pick: str | None = None


class _State:
    """A route's rotation: the round-robin counter, the smooth weighted round-robin's current weights."""

    def __init__(self, route: RouteSettings) -> None:
        self.turn = itertools.count()
        self.weights = dict(zip(route.channels, route.weights or [1] * len(route.channels), strict=True))
        self.current = dict.fromkeys(route.channels, 0)


class Router:
    """Picks a channel for a number by the config's routes (see the module docstring)."""

    def __init__(self, routes: Sequence[RouteSettings], channels: Channels, link_down: LinkDown) -> None:
        self.routes = list(routes)
        self.channels = channels
        self.link_down = link_down
        self._prefixes = [tuple(r.to) if r.to else None for r in self.routes]
        self._countries = [frozenset(r.country) if r.country else None for r in self.routes]
        self._states = [_State(r) for r in self.routes]

    def __bool__(self) -> bool:
        return bool(self.routes)

    def _matches(self, index: int, number: str) -> bool:
        prefixes, countries = self._prefixes[index], self._countries[index]
        if prefixes is not None and not number.startswith(prefixes):
            return False
        return countries is None or number_region(number) in countries

    def _read(self, name: str, raw: str, cache: dict[str, Any]) -> str | MessageInvalid:
        found = cache.get(name)
        if found is None:
            try:
                found = cache[name] = self.channels.outgoing_number(name, raw)
            except MessageInvalid as exc:
                found = cache[name] = exc
        return found  # type: ignore[no-any-return]

    def _candidates(self, index: int, raw: str, allowed: Collection[str] | None, cache: dict[str, Any]
                    ) -> list[tuple[str, str]]:
        out = []
        for name in self.routes[index].channels:
            if (allowed is not None and name not in allowed) or name not in self.channels:
                continue
            number = self._read(name, raw, cache)
            if isinstance(number, str) and self._matches(index, number):
                out.append((name, number))
        return out

    def _pick(self, index: int, names: list[str], advance: bool) -> str:
        """The strategy's pick among `names` (in route order), skipping channels whose link is down unless all
        are; `advance` moves the rotation on (False only explains)."""
        up = [n for n in names if self.link_down(n) is None] or names
        route, state = self.routes[index], self._states[index]
        if route.strategy == "round_robin":
            turn = next(state.turn) if advance else _peek(state)
            start = turn % len(names)
            rotated = names[start:] + names[:start]
            return next(n for n in rotated if n in up)
        if route.strategy == "weighted":
            total = sum(state.weights[n] for n in up)
            current = state.current if advance else dict(state.current)
            for n in up:
                current[n] += state.weights[n]
            best = max(up, key=lambda n: current[n])
            current[best] -= total
            return best
        return up[0]

    def choose(self, raw: str, allowed: Collection[str] | None = None) -> Choice:
        """The channel that sends `raw` (as written by the sender) now, with its failover order; MessageInvalid
        when no route matches (or, `allowed` given, none among those channels)."""
        cache: dict[str, Any] = {}
        for index in range(len(self.routes)):
            candidates = self._candidates(index, raw, allowed, cache)
            if not candidates:
                continue
            names = [n for n, _ in candidates]
            chosen = self._pick(index, names, advance=True)
            numbers = dict(candidates)
            at = names.index(chosen)
            order = names[at:] + names[:at] if self.routes[index].strategy == "round_robin" else \
                [chosen] + [n for n in names if n != chosen]
            return Choice(index, chosen, numbers[chosen], tuple(order))
        raise self._no_route(raw, allowed, cache)

    def _no_route(self, raw: str, allowed: Collection[str] | None, cache: dict[str, Any]) -> MessageInvalid:
        readings = list(cache.values())
        if readings and all(isinstance(r, MessageInvalid) for r in readings):
            return readings[0]  # type: ignore[no-any-return]  # no channel can read it: say what is wrong with it
        shown = next((r for r in readings if isinstance(r, str)), raw.strip())
        scope = " among this tenant's channels" if allowed is not None else ""
        if not self.routes:
            return MessageInvalid("no channel given and no [[routes]] configured: name a channel", code="no_route")
        return MessageInvalid(f"no route matches {shown}{scope}: name a channel, or add a [[routes]] entry "
                              "for it", code="no_route")

    def explain(self, raw: str, allowed: Collection[str] | None = None) -> list[RouteVerdict]:
        """What every route makes of `raw` now, in order, without moving any rotation (`smsgate route`)."""
        cache: dict[str, Any] = {}
        verdicts = []
        decided = False
        for index, route in enumerate(self.routes):
            candidates = self._candidates(index, raw, allowed, cache)
            verdict = RouteVerdict(index, route, bool(candidates) and not decided, "")
            if not candidates:
                verdict.why = self._why_not(index, route, raw, allowed, cache)
            elif decided:
                verdict.why = "matches, but an earlier route wins"
            else:
                names = [n for n, _ in candidates]
                verdict.pick = self._pick(index, names, advance=False)
                numbers = dict(candidates)
                order = [verdict.pick] + [n for n in names if n != verdict.pick]
                verdict.candidates = [(n, numbers[n], self.link_down(n)) for n in order]
                verdict.why = "matches"
                decided = True
            verdicts.append(verdict)
        return verdicts

    def _why_not(self, index: int, route: RouteSettings, raw: str, allowed: Collection[str] | None,
                 cache: dict[str, Any]) -> str:
        names = [n for n in route.channels if (allowed is None or n in allowed) and n in self.channels]
        if not names:
            return "none of its channels is this tenant's" if allowed is not None else "none of its channels exists"
        readings = {n: self._read(n, raw, cache) for n in names}
        numbers = sorted({r for r in readings.values() if isinstance(r, str)})
        if not numbers:
            first = next(iter(readings.values()))
            return f"its channels cannot read the number ({first})"
        wanted = []
        if route.to:
            wanted.append(f"starts with {' or '.join(route.to)}")
        if route.country:
            wanted.append(f"is in {' or '.join(route.country)}")
        return f"{' / '.join(numbers)} is not a number that {' and '.join(wanted)}"

    def may_move(self, channel: str) -> bool:
        """Whether some route could move a message of `channel` to another channel whose link is up now (the
        worker then takes that channel's routed messages even while its own link is down)."""
        return any(channel in route.channels and any(n != channel and n in self.channels and
                                                     self.link_down(n) is None for n in route.channels)
                   for route in self.routes)


def _peek(state: _State) -> int:
    """The round-robin counter's next value, without taking it."""
    turn = next(state.turn)
    state.turn = itertools.count(turn)
    return turn
