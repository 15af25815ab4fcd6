"""Charts drawn on the server: bars as data for CSS, a trend as an inline SVG polyline (no script)."""

from __future__ import annotations


def bars(points: list[tuple[str, float]]) -> list[dict]:
    """Each label with its value and its share of the largest (0–100), for a CSS bar."""
    top = max((v for _, v in points), default=0) or 1
    return [{"label": label, "value": value, "pct": round(100 * value / top, 1)} for label, value in points]


def trend(days: dict, width: int = 640, height: int = 160) -> dict:
    """``{"days": [...], "<series>": [...]}`` as SVG polylines scaled into ``width`` × ``height``."""
    labels = days.get("days", [])
    series = {k: v for k, v in days.items() if k != "days" and isinstance(v, list)}
    top = max((max(v, default=0) for v in series.values()), default=0) or 1
    step = width / max(len(labels) - 1, 1)

    pad = 8  # lines at the top or bottom stay visible

    def points(values: list[float]) -> str:
        return " ".join(f"{i * step:.1f},{pad + (height - 2 * pad) * (1 - v / top):.1f}" for i, v in enumerate(values))

    return {"width": width, "height": height, "labels": labels, "top": top,
            "lines": [{"name": name, "points": points(values), "last": values[-1] if values else 0}
                      for name, values in series.items()]}
