"""The loss curve of a run, from its ``metrics.jsonl``: ``loss_curve.svg`` always, ``loss_curve.png`` too.

The SVG (axes, labels, train and eval loss) needs nothing but Python and opens in any browser. The PNG is drawn
with matplotlib when it is installed; otherwise with a small numpy rasteriser written here (lines and axes, no
text; PNG is zlib-compressed scanlines, so no imaging library is needed), because matplotlib and Pillow are not
dependencies of codeflow and a headless training box should still get a picture it can attach to a report.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np

from codeflow.html_report import esc

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 640, 360, 60, 16, 24, 40
TRAIN_RGB, EVAL_RGB = (0x4C, 0x78, 0xA8), (0xF5, 0x85, 0x18)


def read_metrics(path: str | Path) -> list[dict]:
    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def _series(rows: list[dict]) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    train = [(r["step"], r["loss"]) for r in rows if r.get("loss") is not None]
    ev = [(r["step"], r["eval_loss"]) for r in rows if r.get("eval_loss") is not None]
    return train, ev


def _scale(train, ev):
    pts = train + ev
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1e-3)

    def sx(x: float) -> float:
        return PAD_L + (x - x0) / (x1 - x0) * (W - PAD_L - PAD_R)

    def sy(y: float) -> float:
        return PAD_T + (y1 - y) / (y1 - y0) * (H - PAD_T - PAD_B)

    return sx, sy, (x0, x1, y0, y1)


def svg(rows: list[dict], title: str = "loss") -> str:
    train, ev = _series(rows)
    if not train and not ev:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}"></svg>\n'
    sx, sy, (x0, x1, y0, y1) = _scale(train, ev)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" '
             f'font-size="11"><rect width="{W}" height="{H}" fill="white"/>',
             f'<rect x="{PAD_L}" y="{PAD_T}" width="{W - PAD_L - PAD_R}" height="{H - PAD_T - PAD_B}" '
             f'fill="none" stroke="#999"/>',
             f'<text x="{PAD_L}" y="16">{esc(title)}</text>',
             f'<text x="{W - PAD_R}" y="{H - 8}" text-anchor="end">step</text>']
    for i in range(5):
        yv = y0 + (y1 - y0) * i / 4
        parts.append(f'<text x="{PAD_L - 4}" y="{sy(yv) + 4:.1f}" text-anchor="end">{yv:.3f}</text>')
        xv = x0 + (x1 - x0) * i / 4
        parts.append(f'<text x="{sx(xv):.1f}" y="{H - PAD_B + 14}" text-anchor="middle">{xv:.0f}</text>')
    for pts, rgb, name, dy in ((train, TRAIN_RGB, "train", 0), (ev, EVAL_RGB, "eval", 14)):
        if not pts:
            continue
        color = "#{:02x}{:02x}{:02x}".format(*rgb)
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{path}"/>')
        parts.append(f'<text x="{W - PAD_R - 4}" y="{PAD_T + 14 + dy}" text-anchor="end" fill="{color}">'
                     f"{name}</text>")
    parts.append("</svg>\n")
    return "\n".join(parts)


def _line(img: np.ndarray, a: tuple[float, float], b: tuple[float, float], rgb: tuple[int, int, int]) -> None:
    n = int(max(abs(b[0] - a[0]), abs(b[1] - a[1]))) + 1
    xs = np.clip(np.rint(np.linspace(a[0], b[0], n + 1)).astype(int), 0, img.shape[1] - 1)
    ys = np.clip(np.rint(np.linspace(a[1], b[1], n + 1)).astype(int), 0, img.shape[0] - 1)
    img[ys, xs] = rgb
    img[np.clip(ys + 1, 0, img.shape[0] - 1), xs] = rgb


def png_bytes(rows: list[dict]) -> bytes:
    """A plain RGB PNG of the curves (no text): frame, train loss in blue, eval loss in orange."""
    img = np.full((H, W, 3), 255, dtype=np.uint8)
    train, ev = _series(rows)
    img[PAD_T, PAD_L:W - PAD_R] = img[H - PAD_B, PAD_L:W - PAD_R] = (153, 153, 153)
    img[PAD_T:H - PAD_B, PAD_L] = img[PAD_T:H - PAD_B, W - PAD_R] = (153, 153, 153)
    if train or ev:
        sx, sy, _ = _scale(train, ev)
        for pts, rgb in ((train, TRAIN_RGB), (ev, EVAL_RGB)):
            xy = [(sx(x), sy(y)) for x, y in pts]
            for a, b in zip(xy, xy[1:], strict=False):
                _line(img, a, b, rgb)
            if len(xy) == 1:
                _line(img, xy[0], xy[0], rgb)
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(H))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def _matplotlib_png(rows: list[dict], path: Path, title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    train, ev = _series(rows)
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    if train:
        ax.plot(*zip(*train, strict=True), label="train")
    if ev:
        ax.plot(*zip(*ev, strict=True), "o-", label="eval")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def write_curves(metrics_path: str | Path, out_dir: str | Path, title: str = "loss") -> Path:
    """Write ``loss_curve.svg`` and ``loss_curve.png`` beside the metrics; returns the PNG path."""
    rows = read_metrics(metrics_path)
    out = Path(out_dir)
    (out / "loss_curve.svg").write_text(svg(rows, title))
    png = out / "loss_curve.png"
    tmp = out / ".loss_curve.tmp.png"
    if not _matplotlib_png(rows, tmp, title):
        tmp.write_bytes(png_bytes(rows))
    tmp.replace(png)
    return png
