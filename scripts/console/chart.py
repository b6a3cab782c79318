"""The balance of an account over time, as an inline SVG (no script, no library).

Drawn from the events: one step per event, at its recorded time, to the balance after
it. Coordinates are computed from whole cents in Decimal, never through a float, and the
labels print the amounts as stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from html import escape

from attrs import frozen

from banking.domain.money import Money

WIDTH = 720
HEIGHT = 240
# Room for the amount labels on the left and the dates below.
LEFT, RIGHT, TOP, BOTTOM = 96, 16, 16, 40
PIXEL = Decimal("0.1")


@frozen
class Point:
    version: int
    recorded_at: datetime
    balance: Money


def balance_chart(points: Sequence[Point], *, title: str) -> str:
    """An accessible SVG (role img, a title and a description naming the range)."""
    if not points:
        return ""
    balances = [point.balance.cents for point in points]
    # The zero line is always in view: whether an account is overdrawn is the question.
    low, high = min([*balances, 0]), max([*balances, 0])
    if low == high:
        high = low + 100
    first, last = points[0].recorded_at, points[-1].recorded_at
    span = Decimal(str((last - first).total_seconds()))
    plot_w, plot_h = Decimal(WIDTH - LEFT - RIGHT), Decimal(HEIGHT - TOP - BOTTOM)

    def x(index: int) -> Decimal:
        if span > 0:
            elapsed = Decimal(str((points[index].recorded_at - first).total_seconds()))
            return LEFT + plot_w * elapsed / span
        # Every event in the same instant: spread them by version instead.
        return LEFT + (plot_w * index / (len(points) - 1) if len(points) > 1 else plot_w / 2)

    def y(cents: int) -> Decimal:
        return TOP + plot_h * (high - cents) / (high - low)

    steps: list[str] = []
    for index, balance in enumerate(balances):
        if index:
            steps.append(f"{_px(x(index))},{_px(y(balances[index - 1]))}")
        steps.append(f"{_px(x(index))},{_px(y(balance))}")
    dots = "".join(
        f'<circle cx="{_px(x(i))}" cy="{_px(y(b))}" r="3"><title>'
        f"v{points[i].version} {escape(points[i].recorded_at.isoformat())}: "
        f"{escape(str(points[i].balance))}</title></circle>"
        for i, b in enumerate(balances)
    )
    description = (
        f"{len(points)} event(s) from {first:%Y-%m-%d %H:%M:%S} to {last:%Y-%m-%d %H:%M:%S} UTC; "
        f"balance from {points[0].balance} to {points[-1].balance}, "
        f"lowest {Money(min(balances))}, highest {Money(max(balances))}"
    )
    zero = _px(y(0))
    bottom = HEIGHT - BOTTOM
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" aria-labelledby="chart-title chart-desc">'
        f'<title id="chart-title">{escape(title)}</title>'
        f'<desc id="chart-desc">{escape(description)}</desc>'
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}"/>'
        f'<line class="zero" x1="{LEFT}" y1="{zero}" x2="{WIDTH - RIGHT}" y2="{zero}"/>'
        f"{_label(y(high), high) if high else ''}"
        f'<text class="label" x="{LEFT - 6}" y="{zero}" text-anchor="end" '
        f'dominant-baseline="middle">0.00</text>'
        f"{_label(y(low), low) if low else ''}"
        f'<text class="label" x="{LEFT}" y="{HEIGHT - 12}">{first:%Y-%m-%d %H:%M:%S}</text>'
        f'<text class="label" x="{WIDTH - RIGHT}" y="{HEIGHT - 12}" text-anchor="end">'
        f"{last:%Y-%m-%d %H:%M:%S}</text>"
        f'<polyline class="balance" points="{" ".join(steps)}"/>'
        f"{dots}</svg>"
    )


def _label(at: Decimal, cents: int) -> str:
    """An amount on the vertical axis (zero has its own label, on its line)."""
    return (
        f'<text class="label" x="{LEFT - 6}" y="{_px(at)}" text-anchor="end" '
        f'dominant-baseline="middle">{escape(str(Money(cents)))}</text>'
    )


def _px(value: Decimal) -> str:
    return str(value.quantize(PIXEL))
