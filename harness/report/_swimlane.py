"""The swimlane of an example failure: inline SVG strips plus a compact event table.

One horizontal lane per actor (tasks and connections, in order of first
appearance); x is the step number; every event is a marker in its actor's
lane, coloured by kind, with an SVG ``<title>`` as its tooltip. Deviation
events (where the schedule left the default order) get a dark outline and a
shaded band across all lanes. An arrow joins every ``submit`` to the
``exec`` or ``fault`` of the same operation (see :func:`links`).

Layout: the steps are cut into strips of at most :data:`STEPS_PER_STRIP`
steps, stacked like lines of text, so a swimlane never scrolls sideways
inside its box and never widens the page. Each strip is an HTML grid of
lane names beside an SVG that is ``width: 100%`` of what is left; positions
along x are percentages and sizes are pixels, so markers stay round and
text keeps its size at any page width. An arrow whose two ends fall in
different strips is drawn as two dashed halves: off the right edge of the
first, in from the left edge of the second.

The example's events come from elsewhere and are read defensively:
malformed events are skipped, never fatal. Every string that reaches the
page goes through :func:`html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any, TypeGuard

KIND_COLORS = {
    "spawn": "#78909c",
    "submit": "#1e88e5",
    "exec": "#43a047",
    "block": "#fb8c00",
    "wake": "#c0ca33",
    "deliver": "#00897b",
    "notify": "#8e24aa",
    "recv": "#d81b60",
    "drop": "#6d4c41",
    "fault": "#e53935",
    "crash": "#b71c1c",
    "recover": "#00acc1",
    "advance": "#bdbdbd",
    "end": "#212121",
}
OTHER_COLOR = "#9e9e9e"
EFFECT_KINDS = frozenset({"exec", "fault"})
"""Kinds that end a submitted operation's wait for SQLite (what a submit arrow points to)."""
STEPS_PER_STRIP = 40
LANE_H = 28
RADIUS = 5.0
_SHARP = {"fault", "crash", "drop"}  # drawn as diamonds, so they stand out without colour
_TOP = 22  # room for deviation marks
_AXIS = 20  # room for step labels
_DEV_ROW = ' class="dev"'


@dataclass(frozen=True)
class LaneEvent:
    """One event of an example failure, as drawn.

    ``op`` (schema ``events[].op``) names the operation a ``submit``,
    ``exec``, ``fault`` or ``deliver`` belongs to; ``None`` when not recorded.
    """

    step: int
    time: float
    actor: str
    kind: str
    text: str
    deviation: bool
    op: int | None = None

    def tooltip(self) -> str:
        mark = " (deviation)" if self.deviation else ""
        return f"step {self.step} t={self.time:.3f}s {self.actor} {self.kind} {self.text}{mark}"


def events_of(example: Mapping[str, Any] | Sequence[Any]) -> list[LaneEvent]:
    """The well-formed events of an example (or of an events list); others are skipped."""
    raw = example.get("events") if isinstance(example, Mapping) else example
    if not isinstance(raw, list | tuple):
        return []
    events = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            continue
        step, time, op = item.get("step"), item.get("time"), item.get("op")
        if not isinstance(step, int) or isinstance(step, bool):
            step = index + 1
        if not _is_number(time):
            time = 0.0
        events.append(
            LaneEvent(
                step=step,
                time=float(time),
                actor=str(item.get("actor") or "?"),
                kind=str(item.get("kind") or "?"),
                text=str(item.get("text") or ""),
                deviation=item.get("deviation") is True,
                op=op if isinstance(op, int) and not isinstance(op, bool) else None,
            )
        )
    return events


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def color(kind: str) -> str:
    return KIND_COLORS.get(kind, OTHER_COLOR)


# ------------------------------------------------------------------ links
def _submitted(event: LaneEvent) -> tuple[str, str] | None:
    """``(target, label)`` of a submit (``"app.db#1: INSERT ..."``), else ``None``."""
    if event.kind != "submit":
        return None
    target, sep, label = event.text.partition(": ")
    return (target, label) if sep and target != event.actor else None


def _same_text(label: str, effect: LaneEvent) -> bool:
    """An execution reads ``<label> -> <outcome>`` (or just the label)."""
    return effect.text == label or effect.text.startswith(label + " -> ")


def links(events: Sequence[LaneEvent]) -> list[tuple[LaneEvent, LaneEvent]]:
    """Pairs ``(submit, effect)``: every submitted operation with the step that ran it.

    The effect is the ``exec`` or ``fault`` in the target's lane with the
    submit's ``op`` id; for events without ids, the first waiting submit to
    that target whose label the effect's text starts with (first in, first
    out among equal labels, as a connection's queue runs them). So the
    statement that was overtaken gets its arrow like every other one.
    """
    waiting: dict[str, list[tuple[LaneEvent, str]]] = {}
    pairs = []
    for event in events:
        submitted = _submitted(event)
        if submitted is not None:
            waiting.setdefault(submitted[0], []).append((event, submitted[1]))
            continue
        if event.kind not in EFFECT_KINDS or event.actor not in waiting:
            continue
        queue = waiting[event.actor]
        found = None
        if event.op is not None:
            found = next((i for i, (s, _) in enumerate(queue) if s.op == event.op), None)
        if found is None:
            found = next(
                (
                    i
                    for i, (s, label) in enumerate(queue)
                    if (s.op is None or event.op is None) and _same_text(label, event)
                ),
                None,
            )
        if found is not None:
            pairs.append((queue.pop(found)[0], event))
    return pairs


def overtaken(pairs: Sequence[tuple[LaneEvent, LaneEvent]]) -> dict[int, LaneEvent]:
    """Statements another one overtook: submit step -> the deviating execution that overtook it.

    A statement is overtaken when it was submitted before the statement of a
    deviation and ran after it: the reordering the schedule chose, which is
    usually the story of the failure (metadata-lww's older write winning).
    """
    deviating = [(s, e) for s, e in pairs if e.deviation]
    out: dict[int, LaneEvent] = {}
    for submit, effect in pairs:
        for other_submit, other_effect in deviating:
            if submit.step < other_submit.step and effect.step > other_effect.step:
                out.setdefault(submit.step, other_effect)
    return out


# ------------------------------------------------------------------ strips
@dataclass(frozen=True)
class _Geometry:
    """Where things go: lanes by actor, x as a percentage of a strip of ``per`` steps."""

    actors: tuple[str, ...]
    per: int
    tints: tuple[str, ...]

    def y(self, actor: str) -> float:
        return _TOP + self.actors.index(actor) * LANE_H + LANE_H / 2

    def x(self, step: int, lo: int) -> float:
        return (step - lo + 0.5) * 100.0 / self.per

    @property
    def bottom(self) -> int:
        return _TOP + LANE_H * len(self.actors)

    @property
    def height(self) -> int:
        return self.bottom + _AXIS


def _is_connection(actor: str, targets: set[str]) -> bool:
    return actor in targets or "#" in actor or actor in {"pool", "process"}


def swimlane_svg(events: Sequence[LaneEvent], uid: str) -> str:
    """The swimlane for ``events``: strips of lanes, stacked (see the module docstring).

    ``uid`` keeps element ids unique on the page.
    """
    if not events:
        return '<p class="muted">No events were recorded for this example.</p>'
    actors = tuple(dict.fromkeys(e.actor for e in events))
    targets = {s[0] for e in events if (s := _submitted(e)) is not None}
    first, last = min(e.step for e in events), max(e.step for e in events)
    strips = math.ceil((last - first + 1) / STEPS_PER_STRIP)
    per = math.ceil((last - first + 1) / strips)
    tints = tuple(
        ("#eaf1fb", "#e1eaf7")[i % 2]
        if _is_connection(a, targets)
        else ("#ffffff", "#f5f5f5")[i % 2]
        for i, a in enumerate(actors)
    )
    geometry = _Geometry(actors, per, tints)
    pairs = links(events)
    overtook = overtaken(pairs)
    parts = []
    for k in range(strips):
        lo = first + k * per
        inside = [e for e in events if lo <= e.step < lo + per]
        parts.append(_strip(geometry, inside, pairs, overtook, lo, f"{uid}-{k}"))
    label = (
        f"swimlane of {len(events)} events across {len(actors)} actors, "
        f"{strips} strip{'' if strips == 1 else 's'} of up to {per} steps"
    )
    return f'<div class="swimlane" role="group" aria-label="{escape(label)}">{"".join(parts)}</div>'


def _strip(
    g: _Geometry,
    events: Sequence[LaneEvent],
    pairs: Sequence[tuple[LaneEvent, LaneEvent]],
    overtook: Mapping[int, LaneEvent],
    lo: int,
    uid: str,
) -> str:
    hi = lo + g.per - 1
    names = "".join(_lane_name(a) for a in g.actors)
    arrows = "".join(
        f'<marker id="arrow{style}-{uid}" viewBox="0 0 6 6" refX="5" refY="3" markerWidth="6" '
        f'markerHeight="6" orient="auto"><path d="M0,0 L6,3 L0,6 z" fill="{paint}"/></marker>'
        for style, (paint, _) in _LINK_STYLES.items()
    )
    plot = [
        f'<svg class="lane-plot" width="100%" height="{g.height}" role="img" '
        f'aria-label="steps {lo} to {hi}">',
        f'<defs>{arrows}<path id="diamond-{uid}" d="M0,-6 L6,0 L0,6 L-6,0 z"/>'
        f'<path id="diamond-dev-{uid}" d="M0,-8 L8,0 L0,8 L-8,0 z"/></defs>',
    ]
    plot += [
        f'<rect x="0" y="{_TOP + i * LANE_H}" width="100%" height="{LANE_H}" fill="{tint}"/>'
        for i, tint in enumerate(g.tints)
    ]
    plot += _ticks(g, lo)
    plot += _deviations(g, events, lo)
    plot += [
        _link(g, s, e, lo, uid, overtook.get(s.step))
        for s, e in pairs
        if lo <= s.step <= hi or lo <= e.step <= hi
    ]
    plot += [_marker(g, e, lo, uid) for e in events]
    plot.append("</svg>")
    return (
        f'<div class="strip"><div class="lane-names" style="padding-top:{_TOP}px">{names}'
        f'<div class="axis-name">step</div></div>{"".join(plot)}</div>'
    )


def _ticks(g: _Geometry, lo: int) -> list[str]:
    every = 1 if g.per <= 12 else 5
    out = []
    for step in range(lo + (-lo) % every, lo + g.per, every):
        x = g.x(step, lo)
        minor = " minor" if every == 5 and step % 10 else ""
        out.append(
            f'<line x1="{x:.3f}%" y1="{_TOP}" x2="{x:.3f}%" y2="{g.bottom}" stroke="#d0d0d0"/>'
            f'<text x="{x:.3f}%" y="{g.bottom + 14}" text-anchor="middle" '
            f'class="tick{minor}">{step}</text>'
        )
    return out


def _deviations(g: _Geometry, events: Sequence[LaneEvent], lo: int) -> list[str]:
    out = []
    band = 80.0 / g.per
    last_label = -math.inf
    for event in (e for e in events if e.deviation):
        x = g.x(event.step, lo)
        out.append(
            f'<rect x="{x - band / 2:.3f}%" y="{_TOP}" width="{band:.3f}%" '
            f'height="{g.bottom - _TOP}" fill="#ffca28" opacity="0.35"/>'
        )
        tip = f"<title>{escape(event.tooltip())}</title>"
        if x - last_label >= 12.0:  # the word where there is room for it, else only the mark
            out.append(
                f'<text x="{x:.3f}%" y="{_TOP - 10}" text-anchor="middle" class="dev dev-long">'
                f"{tip}deviation</text>"
            )
            last_label = x
        out.append(
            f'<text x="{x:.3f}%" y="{_TOP - 1}" text-anchor="middle" class="dev dev-short">'
            f"{tip}▼</text>"
        )
    return out


_LINK_STYLES = {"": ("#455a64", 1.3), "-dev": ("#e65100", 1.8), "-overtaken": ("#c62828", 2.4)}
"""Arrow paint and width: an ordinary statement, a deviation's, an overtaken one's."""
_LANE_NAME_MAX = 13


def _lane_name(actor: str) -> str:
    """A lane's name; a long one keeps its distinctive end on narrow screens (``…ion.db#12``)."""
    full = escape(actor)
    if len(actor) <= _LANE_NAME_MAX:
        return f'<div title="{full}">{full}</div>'
    tail = escape("…" + actor[-(_LANE_NAME_MAX - 1) :])
    return (
        f'<div title="{full}"><span class="wide">{full}</span>'
        f'<span class="narrow">{tail}</span></div>'
    )


def _link(
    g: _Geometry,
    submit: LaneEvent,
    effect: LaneEvent,
    lo: int,
    uid: str,
    overtaken_by: LaneEvent | None = None,
) -> str:
    """The arrow from ``submit`` to ``effect``, or this strip's half of it."""
    hi = lo + g.per - 1
    y1, y2 = g.y(submit.actor), g.y(effect.actor)
    if y1 == y2:
        return ""
    direction = 1.0 if y2 > y1 else -1.0
    gap = RADIUS + 2.0
    start_in, end_in = submit.step >= lo, effect.step <= hi
    x1 = f"{g.x(submit.step, lo):.3f}%" if start_in else "0%"
    x2 = f"{g.x(effect.step, lo):.3f}%" if end_in else "100%"
    y1 = y1 + direction * gap if start_in else y1
    y2 = y2 - direction * (gap + (1.5 if effect.deviation else 0.0)) if end_in else y2
    part = "" if start_in and end_in else " part"
    dash = "" if not part else ' stroke-dasharray="4 3"'
    tip = f"step {submit.step} submit → step {effect.step} {effect.kind} on {effect.actor}"
    style = ""
    if overtaken_by is not None:
        style = "-overtaken"
        tip += f" (overtaken: the deviation at step {overtaken_by.step} ran first)"
    elif effect.deviation:
        style = "-dev"
        tip += " (the deviation)"
    if part:
        tip += " (continues in the next strip)" if start_in else " (from an earlier strip)"
    paint, width = _LINK_STYLES[style]
    return (
        f'<line class="link{style.replace("-", " ")}{part}" data-from="{submit.step}" '
        f'data-to="{effect.step}" x1="{x1}" y1="{y1:.1f}" x2="{x2}" y2="{y2:.1f}" '
        f'stroke="{paint}" stroke-width="{width}"{dash} marker-end="url(#arrow{style}-{uid})">'
        f"<title>{escape(tip)}</title></line>"
    )


def _marker(g: _Geometry, event: LaneEvent, lo: int, uid: str) -> str:
    x, y = g.x(event.step, lo), g.y(event.actor)
    fill = color(event.kind)
    stroke, width = ("#111111", 2.5) if event.deviation else ("#ffffff", 1.0)
    if event.kind in _SHARP:
        which = "diamond-dev" if event.deviation else "diamond"
        shape = (
            f'<use href="#{which}-{uid}" x="{x:.3f}%" y="{y:.1f}" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{width}"/>'
        )
    else:
        r = RADIUS + (1.5 if event.deviation else 0.0)
        shape = (
            f'<circle cx="{x:.3f}%" cy="{y:.1f}" r="{r:.1f}" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{width}"/>'
        )
    return f"<g><title>{escape(event.tooltip())}</title>{shape}</g>"


# ------------------------------------------------------------ legend, table
def legend(events: Sequence[LaneEvent]) -> str:
    """The colour key for the kinds present, plus the deviation and link marks."""
    pairs = links(events)
    present = {e.kind for e in events}
    kinds = [k for k in KIND_COLORS if k in present] + sorted(present - KIND_COLORS.keys())
    items = [
        f'<span><i class="sw" style="background:{color(k)}"></i>{escape(k)}</span>' for k in kinds
    ]
    if any(e.deviation for e in events):
        items.append('<span><i class="sw dev"></i>deviation (shaded step)</span>')
    items.append('<span><i class="link"></i>submit → the step that ran it</span>')
    if any(e.deviation for _, e in pairs):
        items.append('<span><i class="link dev"></i>the deviation\'s statement</span>')
    if overtaken(pairs):
        items.append(
            '<span><i class="link overtaken"></i>overtaken: submitted first, ran after it</span>'
        )
    items.append('<span><i class="lanekey"></i>connection lane</span>')
    return f'<div class="legend">{"".join(items)}</div>'


def event_table(events: Sequence[LaneEvent]) -> str:
    """The events as a compact monospaced table; deviation rows highlighted."""
    rows = []
    for e in events:
        mark = ' <b class="devmark">← deviation</b>' if e.deviation else ""
        rows.append(
            f'<tr{_DEV_ROW if e.deviation else ""}><td class="num">{e.step}</td>'
            f'<td class="num">{e.time:.3f}</td><td>{escape(e.actor)}</td>'
            f'<td class="kind"><i class="sw" style="background:{color(e.kind)}">'
            f"</i>{escape(e.kind)}</td>"
            f"<td>{escape(e.text)}{mark}</td></tr>"
        )
    return (
        '<table class="events"><thead><tr><th>step</th><th>t (s)</th><th>actor</th>'
        f"<th>kind</th><th>event</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
