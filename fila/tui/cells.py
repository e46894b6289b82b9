"""Table cells: numbers, rates, sparklines and bars as Rich `Text`, right-aligned where numeric."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

SPARK_CHARS = "▁▂▃▄▅▆▇█"
EIGHTHS = " ▏▎▍▌▋▊▉█"
BREAKER_STYLES = {"closed": "green", "half-open": "yellow", "open": "bold red"}
NONE = "—"


def count(n: int) -> Text:
    return Text(f"{n:,}", justify="right")


def rate(r: float | None) -> Text:
    """Per-second rates: 0 as "0", small ones with one decimal, big ones whole."""
    if r is None:
        return Text(NONE, justify="right", style="dim")
    if r == 0:
        return Text("0", justify="right", style="dim")
    return Text(f"{r:,.1f}" if r < 100 else f"{r:,.0f}", justify="right")


def number(x: float) -> Text:
    """A rate or burst as set by a user: 20 rather than 20.0."""
    return Text(f"{x:g}", justify="right")


def micros(us: float) -> Text:
    if us <= 0:
        return Text(NONE, justify="right", style="dim")
    return Text(f"{us:,.0f} µs" if us < 10_000 else f"{us / 1000:,.1f} ms", justify="right")


def percent(fraction: float | None) -> Text:
    if fraction is None:
        return Text(NONE, justify="right", style="dim")
    style = "bold red" if fraction >= 0.5 else "yellow" if fraction > 0 else ""
    return Text(f"{fraction:.0%}", justify="right", style=style)


def spark(values: Sequence[float], width: int = 20) -> Text:
    """The last `width * k` values squeezed into `width` cells (max of each group)."""
    if not values:
        return Text(" " * width)
    per_cell = max(1, -(-len(values) // width))  # ceil
    groups = [max(values[i : i + per_cell]) for i in range(0, len(values), per_cell)]
    top = max(groups)
    if top <= 0:
        return Text((SPARK_CHARS[0] * len(groups)).rjust(width), style="dim")
    last = len(SPARK_CHARS) - 1
    line = "".join(SPARK_CHARS[round(v / top * last)] for v in groups)
    return Text(line.rjust(width), style="cyan")


def bar(fraction: float, width: int) -> str:
    """A left-to-right bar `width` cells long, in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (EIGHTHS[part] if part else "")
    return text.ljust(width)


def share(fair: float, actual: float, width: int = 10) -> Text:
    """Actual share as a bar, fair share as a `│` mark on it, then "actual / fair"."""
    cells = list(bar(actual, width))
    mark = min(width - 1, round(fair * width))
    cells[mark] = "│" if cells[mark] == " " else "┃"
    style = "green" if actual >= fair * 0.9 else "yellow"
    text = Text()
    text.append("".join(cells), style=style)
    text.append(f" {actual:4.0%} / {fair:4.0%}")
    return text


def level(tokens: float, burst: float, width: int = 10) -> Text:
    """A token bucket's fill level: tokens out of burst."""
    fraction = tokens / burst if burst > 0 else 0.0
    style = "green" if fraction >= 0.5 else "yellow" if fraction >= 0.1 else "red"
    text = Text()
    text.append(bar(fraction, width), style=style)
    text.append(f" {tokens:,.1f}/{burst:g}")
    return text


def breaker(state: str) -> Text:
    return Text(state, style=BREAKER_STYLES.get(state, ""))


def yes_no(flag: bool) -> Text:
    return Text("yes" if flag else "no", style="" if flag else "dim")
