"""The swimlane of an example failure: an inline SVG plus a compact event table.

One horizontal lane per actor (tasks and connections, in order of first
appearance); x is the step number; every event is a marker in its actor's
lane, coloured by kind, with an SVG ``<title>`` as its tooltip. Deviation
events (where the schedule left the default order) get a dark outline, a
shaded band across all lanes and a label above the lanes. A thin arrow joins
a ``submit`` to the ``exec``/``fault``/``deliver`` it caused in the
connection lane when the match is unambiguous.

The example dict comes from elsewhere and is read defensively: malformed
events are skipped, never fatal. Every string that reaches the page goes
through :func:`html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
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
_SHARP = {"fault", "crash", "drop"}  # drawn as diamonds, so they stand out without colour
LANE_H = 30
_TOP = 34  # room for deviation labels
_AXIS = 28  # room for step labels
_DEV_ROW = ' class="dev"'
_LINK_KEY = 40  # characters of an operation label used to match submit -> exec


@dataclass(frozen=True)
class LaneEvent:
    """One event of an example failure, as drawn."""

    step: int
    time: float
    actor: str
    kind: str
    text: str
    deviation: bool

    def tooltip(self) -> str:
        mark = " (deviation)" if self.deviation else ""
        return f"step {self.step} t={self.time:.3f}s {self.actor} {self.kind} {self.text}{mark}"


def events_of(example: Mapping[str, Any]) -> list[LaneEvent]:
    """The well-formed events of ``example`` (others are skipped), in order."""
    raw = example.get("events")
    if not isinstance(raw, list):
        return []
    events = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            continue
        step, time = item.get("step"), item.get("time")
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
            )
        )
    return events


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def color(kind: str) -> str:
    return KIND_COLORS.get(kind, OTHER_COLOR)


def _targets(events: Sequence[LaneEvent]) -> set[str]:
    """Actors named as the target of a ``submit`` (``"app.db#1: INSERT ..."``)."""
    return {e.text.split(": ", 1)[0] for e in events if e.kind == "submit" and ": " in e.text}


def _is_connection(actor: str, targets: set[str]) -> bool:
    return actor in targets or "#" in actor or actor in {"pool", "process"}


def _key(text: str) -> tuple[str, bool]:
    flat = " ".join(text.split()).rstrip("…")
    return (flat[:_LINK_KEY], True) if len(flat) > _LINK_KEY else (flat, False)


def _matches(key: tuple[str, bool], text: str) -> bool:
    prefix, cut = key
    flat = " ".join(text.split())
    return flat.startswith(prefix) if cut else flat == prefix or flat.startswith(prefix + " -> ")


def links(events: Sequence[LaneEvent]) -> list[tuple[LaneEvent, LaneEvent]]:
    """Pairs ``(submit, effect)`` where the effect is unambiguously that submit's.

    The effect is the first later ``exec``, ``fault`` or ``deliver`` in the
    connection lane whose text starts with the submitted operation's label.
    When two pending submits would match, neither is drawn.
    """
    actors = {e.actor for e in events}
    pending: dict[str, list[tuple[LaneEvent, tuple[str, bool]]]] = {}
    pairs = []
    for event in events:
        if event.kind == "submit" and ": " in event.text:
            target, label = event.text.split(": ", 1)
            if target in actors and target != event.actor:
                pending.setdefault(target, []).append((event, _key(label)))
        elif event.kind in {"exec", "fault", "deliver"} and event.actor in pending:
            queue = pending[event.actor]
            found = [i for i, (_, key) in enumerate(queue) if _matches(key, event.text)]
            if len(found) == 1:
                pairs.append((queue.pop(found[0])[0], event))
            elif found:  # ambiguous: draw nothing, forget the oldest candidate
                queue.pop(found[0])
    return pairs


def _tick_every(px_per_step: float) -> int:
    for every in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000):
        if every * px_per_step >= 44:
            return every
    return 10000


def swimlane_svg(events: Sequence[LaneEvent], uid: str) -> str:
    """The swimlane for ``events``: a fixed SVG of lane labels beside a scrolling plot SVG.

    The labels stay in view while a long example (hundreds of steps) scrolls
    sideways. ``uid`` keeps element ids unique on the page.
    """
    if not events:
        return '<p class="muted">No events were recorded for this example.</p>'
    actors = list(dict.fromkeys(e.actor for e in events))
    lane = {actor: i for i, actor in enumerate(actors)}
    targets = _targets(events)
    first = min(e.step for e in events)
    span = max(e.step for e in events) - first
    px = min(28.0, max(8.0, 1000.0 / max(span, 1)))
    label_w = min(210.0, 24.0 + 7.3 * max(len(a) for a in actors))
    lanes_h = LANE_H * len(actors)
    width = span * px + 40.0
    height = _TOP + lanes_h + _AXIS
    radius = max(3.0, min(6.0, px * 0.42))
    tints = [
        ("#eaf1fb", "#e1eaf7")[i % 2]
        if _is_connection(a, targets)
        else ("#ffffff", "#f5f5f5")[i % 2]
        for i, a in enumerate(actors)
    ]

    def x(step: int) -> float:
        return 16.0 + (step - first) * px

    def y(actor: str) -> float:
        return _TOP + lane[actor] * LANE_H + LANE_H / 2

    def lanes(w: float) -> list[str]:
        return [
            f'<rect x="0" y="{_TOP + i * LANE_H}" width="{w:.0f}" height="{LANE_H}" fill="{t}"/>'
            for i, t in enumerate(tints)
        ]

    bottom = _TOP + lanes_h
    labels = [_svg_open(label_w, height, "lane labels"), *lanes(label_w)]
    for actor in actors:
        shown = actor if len(actor) <= 26 else actor[:25] + "…"
        labels.append(
            f'<text x="{label_w - 10:.1f}" y="{y(actor) + 4:.1f}" text-anchor="end" class="lane">'
            f"<title>{escape(actor)}</title>{escape(shown)}</text>"
        )
    labels.append(
        f'<text x="{label_w - 10:.1f}" y="{bottom + 16}" text-anchor="end" class="tick">step</text>'
        f'<line x1="{label_w - 0.5:.1f}" y1="{_TOP}" x2="{label_w - 0.5:.1f}" y2="{bottom}" '
        'stroke="#9e9e9e"/></svg>'
    )
    label = f"swimlane of {len(events)} events across {len(actors)} actors"
    plot = [
        _svg_open(width, height, label),
        f'<defs><marker id="arrow-{uid}" viewBox="0 0 6 6" refX="5" refY="3" markerWidth="6" '
        'markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L6,3 L0,6 z" '
        'fill="#546e7a"/></marker></defs>',
        *lanes(width),
    ]
    every = _tick_every(px)
    for step in range(first + (-first) % every, first + span + 1, every):
        plot.append(
            f'<line x1="{x(step):.1f}" y1="{_TOP}" x2="{x(step):.1f}" y2="{bottom}" '
            'stroke="#d0d0d0" stroke-width="1"/>'
            f'<text x="{x(step):.1f}" y="{bottom + 16}" text-anchor="middle" '
            f'class="tick">{step}</text>'
        )
    plot.extend(_deviations(events, x, px, lanes_h))
    for start, end in links(events):
        plot.append(
            _link((x(start.step), y(start.actor)), (x(end.step), y(end.actor)), radius, uid)
        )
    plot.extend(_marker(event, x(event.step), y(event.actor), radius) for event in events)
    plot.append("</svg>")
    return (
        f'<div class="lanes">{"".join(labels)}<div class="lanes-plot">{"".join(plot)}</div></div>'
    )


def _svg_open(width: float, height: float, label: str) -> str:
    return (
        f'<svg class="swimlane" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{escape(label)}">'
    )


def _deviations(
    events: Sequence[LaneEvent], x: Callable[[int], float], px: float, lanes_h: float
) -> list[str]:
    out = []
    last_label = -math.inf
    band = max(px * 0.8, 6.0)
    for event in (e for e in events if e.deviation):
        cx = x(event.step)
        out.append(
            f'<rect x="{cx - band / 2:.1f}" y="{_TOP}" width="{band:.1f}" height="{lanes_h}" '
            'fill="#ffca28" opacity="0.35"/>'
        )
        if cx - last_label >= 66:
            out.append(
                f'<text x="{cx:.1f}" y="{_TOP - 10}" text-anchor="middle" class="dev">'
                f"<title>{escape(event.tooltip())}</title>deviation</text>"
                f'<line x1="{cx:.1f}" y1="{_TOP - 7}" x2="{cx:.1f}" y2="{_TOP}" stroke="#e65100"/>'
            )
            last_label = cx
    return out


def _link(a: tuple[float, float], b: tuple[float, float], radius: float, uid: str) -> str:
    """A thin arrow from marker ``a`` to marker ``b``, stopping at their edges."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = math.hypot(dx, dy)
    gap = radius + 2.5
    if length <= 2 * gap:
        return ""
    ux, uy = dx / length, dy / length
    return (
        f'<line x1="{a[0] + ux * gap:.1f}" y1="{a[1] + uy * gap:.1f}" '
        f'x2="{b[0] - ux * gap:.1f}" y2="{b[1] - uy * gap:.1f}" stroke="#546e7a" '
        f'stroke-width="1" opacity="0.7" marker-end="url(#arrow-{uid})"/>'
    )


def _marker(event: LaneEvent, cx: float, cy: float, r: float) -> str:
    fill = color(event.kind)
    stroke, width = ("#111111", 2.5) if event.deviation else ("#ffffff", 1.0)
    if event.deviation:
        r += 1.5
    if event.kind in _SHARP:
        d = r * 1.25
        shape = (
            f'<path d="M{cx:.1f},{cy - d:.1f} L{cx + d:.1f},{cy:.1f} L{cx:.1f},{cy + d:.1f} '
            f'L{cx - d:.1f},{cy:.1f} z" fill="{fill}" stroke="{stroke}" stroke-width="{width}"/>'
        )
    else:
        shape = (
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{width}"/>'
        )
    return f"<g><title>{escape(event.tooltip())}</title>{shape}</g>"


def legend(events: Sequence[LaneEvent]) -> str:
    """The colour key for the kinds present, plus the deviation and link marks."""
    present = {e.kind for e in events}
    kinds = [k for k in KIND_COLORS if k in present] + sorted(present - KIND_COLORS.keys())
    items = [
        f'<span><i class="sw" style="background:{color(k)}"></i>{escape(k)}</span>' for k in kinds
    ]
    if any(e.deviation for e in events):
        items.append('<span><i class="sw dev"></i>deviation (shaded step)</span>')
    items.append('<span><i class="link"></i>submit → its execution</span>')
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
            f'<td style="white-space:nowrap"><i class="sw" style="background:{color(e.kind)}">'
            f"</i>{escape(e.kind)}</td>"
            f"<td>{escape(e.text)}{mark}</td></tr>"
        )
    return (
        '<table class="events"><thead><tr><th>step</th><th>t (s)</th><th>actor</th>'
        f"<th>kind</th><th>event</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
