"""Pictures of a diagnosis: heatmap overlays with GT and predicted boxes, the clip's mean
heatmap and the scene label map with where the false positives sit, drawn on the frames with
OpenCV; and a width × height chart of predicted vs GT boxes, a matplotlib figure (the optional
``plots`` extra; without it the chart is skipped with a warning)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from iodvideo.inference.diagnose_scene import LABELS, SceneMaps
from iodvideo.plotting import PlotsUnavailableError, figure_to_bgr, new_figure

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

GT_COLOUR = (0, 220, 0)  # BGR
TOP1_COLOUR = (0, 0, 255)
OTHER_COLOUR = (0, 165, 255)
REFERENCE_COLOUR = (170, 170, 170)
# one colour per diagnosis category (scene labels + gt_box)
CATEGORY_COLOURS = {
    "gt_box": (0, 220, 0), "letterbox": (200, 60, 0), "text": (230, 0, 230),
    "sky": (230, 200, 0), "moving_warm": (0, 0, 255), "vegetation": (0, 140, 0),
    "edges": (0, 230, 230), "other": (160, 160, 160),
}
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def heat_to_image(heat: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """Grid heatmap ``(h, w)`` → ``(H, W)`` float32, cell ``(i, j)`` at image point
    ``(i·W/w, j·H/h)``: where the decoder puts a box centred on that cell (protocol §8)."""
    (h, w), (height, width) = heat.shape, image_hw
    matrix = np.float32([[width / w, 0, 0], [0, height / h, 0]])
    return cv2.warpAffine(heat.astype(np.float32), matrix, (width, height),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _bgr(image: np.ndarray) -> np.ndarray:
    image = np.clip(image, 0, 255).astype(np.uint8)
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()


def heat_overlay(image: np.ndarray, heat: np.ndarray, vmax: float | None = None) -> np.ndarray:
    """``image`` with ``heat`` (same size) colour-mapped (JET, 0..vmax) over it; the blend
    weight grows with the heat so cold places show the picture."""
    base = _bgr(image).astype(np.float32)
    top = float(vmax if vmax is not None else heat.max())
    norm = np.clip(heat / max(top, 1e-6), 0.0, 1.0)
    colour = cv2.applyColorMap((norm * 255).astype(np.uint8), cv2.COLORMAP_JET).astype(np.float32)
    alpha = (0.15 + 0.6 * norm)[..., None]
    return (base * (1 - alpha) + colour * alpha).astype(np.uint8)


def _scaled(image: np.ndarray, scale: int) -> np.ndarray:
    if scale == 1:
        return image
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)


def _text(image: np.ndarray, text: str, origin: tuple[int, int], colour=(255, 255, 255),
          size: float = 0.4) -> None:
    cv2.putText(image, text, origin, _FONT, size, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, origin, _FONT, size, colour, 1, cv2.LINE_AA)


def draw_boxes(image: np.ndarray, gt: np.ndarray, boxes: np.ndarray, scores: Sequence[float],
               scale: int = 1) -> np.ndarray:
    """GT boxes green, the top-ranked box red (thick), the others orange, with scores."""
    for box in np.asarray(gt).reshape(-1, 4):
        p = (box * scale).round().astype(int)
        cv2.rectangle(image, (p[0], p[1]), (p[2], p[3]), GT_COLOUR, 2)
    order = list(range(len(scores)))[::-1]  # rank 1 drawn last, on top
    for i in order:
        p = (np.asarray(boxes[i]) * scale).round().astype(int)
        colour, thick = (TOP1_COLOUR, 2) if i == 0 else (OTHER_COLOUR, 1)
        cv2.rectangle(image, (p[0], p[1]), (p[2], p[3]), colour, thick)
        _text(image, f"{i + 1}:{scores[i]:.2f}", (p[0] + 2, max(10, p[1] - 3)), colour, 0.35)
    return image


def frame_panel(frame: np.ndarray, heat: np.ndarray, gt: np.ndarray, boxes: np.ndarray,
                scores: Sequence[float], title: str, scale: int = 1) -> np.ndarray:
    """Side by side: the frame with GT and top-k boxes | the key-frame heatmap over it."""
    left = draw_boxes(_scaled(_bgr(frame), scale), gt, boxes, scores, scale)
    right = draw_boxes(_scaled(heat_overlay(frame, heat), scale), gt, boxes, scores, scale)
    _text(left, title, (4, 14))
    _text(left, "green: GT, red: top-1, orange: top-2..k", (4, left.shape[0] - 6),
          size=0.35)
    _text(right, f"key-frame heatmap, max {heat.max():.2f}", (4, 14))
    return np.concatenate([left, right], axis=1)


def mean_heat_image(mean: np.ndarray, heat: np.ndarray, gt: np.ndarray, centres: np.ndarray,
                    inside: np.ndarray, title: str, scale: int = 1) -> np.ndarray:
    """The mean frame under the clip's mean heatmap, the median GT box (green; the GT boxes'
    extent thin), and each frame's top-1 box centre (green dot: inside its GT box, red:
    outside)."""
    image = _scaled(heat_overlay(mean, heat), scale)
    boxes = np.asarray(gt).reshape(-1, 4)
    if len(boxes):
        extent = np.r_[boxes[:, :2].min(0), boxes[:, 2:].max(0)]
        for box, thick in ((extent, 1), (np.median(boxes, axis=0), 2)):
            p = (box * scale).round().astype(int)
            cv2.rectangle(image, (p[0], p[1]), (p[2], p[3]), GT_COLOUR, thick)
    for (x, y), hit in zip(np.asarray(centres).reshape(-1, 2), inside, strict=True):
        cv2.circle(image, (int(round(x * scale)), int(round(y * scale))), 2,
                   GT_COLOUR if hit else TOP1_COLOUR, -1)
    _text(image, title, (4, 14))
    _text(image, f"mean heatmap (max {heat.max():.2f}), median GT box", (4, 30))
    _text(image, "dots: top-1 centres (green: inside GT)", (4, image.shape[0] - 6), size=0.35)
    return image


def category_image(maps: SceneMaps, centres: np.ndarray, categories: Sequence[str],
                   scores: np.ndarray, shares: Mapping[str, float], scale: int = 1) -> np.ndarray:
    """The mean frame tinted by the static scene labels; each false positive a circle at its
    box centre, coloured by category, its area ∝ score; a legend with the score shares."""
    base = _bgr(maps.mean).astype(np.float32)
    tint = np.zeros_like(base)
    for index, name in enumerate(LABELS):
        if name in CATEGORY_COLOURS and name != "other":
            tint[maps.labels == index] = CATEGORY_COLOURS[name]
    labelled = (maps.labels > 0)[..., None]
    image = _scaled(np.where(labelled, 0.55 * base + 0.45 * tint, base).astype(np.uint8), scale)
    top = float(scores.max()) if len(scores) else 1.0
    for (x, y), cat, score in sorted(zip(np.asarray(centres).reshape(-1, 2), categories, scores,
                                         strict=True), key=lambda t: t[2]):
        radius = max(1, int(round(scale * 6 * np.sqrt(score / max(top, 1e-9)))))
        centre = (int(round(x * scale)), int(round(y * scale)))
        cv2.circle(image, centre, radius, CATEGORY_COLOURS.get(cat, (255, 255, 255)), 1,
                   cv2.LINE_AA)
    columns = 2 if image.shape[1] >= 300 else 1
    per_column = -(-len(shares) // columns)
    legend = np.full((16 * (per_column + 1) + 4, image.shape[1], 3), 32, np.uint8)
    _text(legend, "FP score mass (circle area ~ score)", (4, 13))
    for i, (name, share) in enumerate(shares.items()):
        x, y = 6 + (i // per_column) * (image.shape[1] // columns), 16 * (i % per_column + 1)
        cv2.rectangle(legend, (x, y + 4), (x + 10, y + 13), CATEGORY_COLOURS[name], -1)
        _text(legend, f"{name} {100 * share:.1f} %", (x + 16, y + 13))
    return np.concatenate([image, legend], axis=0)


def _rgb(bgr: tuple[int, int, int]) -> tuple[float, float, float]:
    return bgr[2] / 255, bgr[1] / 255, bgr[0] / 255


def size_figure(gt_wh: np.ndarray, pred_wh: np.ndarray, image_hw: tuple[int, int],
                input_size: int, reference_wh: np.ndarray | None = None,
                figsize: tuple[float, float] = (5.2, 4.2)) -> Figure:
    """Box width × height in pixels of the video, a matplotlib figure: GT (green), top-1 boxes
    (red), each group's median as a cross, optional reference boxes (grey, e.g. the training
    set's), and the dashed line of boxes that are square in the model's ``input_size``² input
    (h = w·H/W). Raises :class:`~iodvideo.plotting.PlotsUnavailableError` without
    matplotlib."""
    fig = new_figure("the box-size chart", figsize)
    ax = fig.add_subplot()
    frame_h, frame_w = image_hw
    groups = [(reference_wh, REFERENCE_COLOUR, "reference GT", 4), (gt_wh, GT_COLOUR, "GT", 9),
              (pred_wh, TOP1_COLOUR, "top-1 boxes", 9)]
    for points, colour, name, area in groups:
        if points is None or not len(points):
            continue
        wh = np.minimum(np.asarray(points, dtype=float).reshape(-1, 2), [frame_w, frame_h])
        med = np.median(wh, axis=0)
        ax.scatter(wh[:, 0], wh[:, 1], s=area, color=_rgb(colour), linewidths=0,
                   label=f"{name}: median {med[0]:.0f} x {med[1]:.0f}")
        ax.plot(*med, marker="P", markersize=11, color=_rgb(colour), markeredgecolor="black")
    ax.plot([0, frame_w], [0, frame_h], linestyle="--", linewidth=1, color="0.45",
            label=f"square in the {input_size}x{input_size} model input")
    ax.set(xlim=(0, frame_w), ylim=(0, frame_h), xlabel="box width (px)",
           ylabel="box height (px)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return fig


def size_chart(gt_wh: np.ndarray, pred_wh: np.ndarray, image_hw: tuple[int, int],
               input_size: int, reference_wh: np.ndarray | None = None) -> np.ndarray | None:
    """:func:`size_figure` as a BGR image (``sizes.png``); None, with a warning that says what
    to install, without matplotlib (a by-product: the diagnosis goes on)."""
    try:
        fig = size_figure(gt_wh, pred_wh, image_hw, input_size, reference_wh)
    except PlotsUnavailableError as err:
        warnings.warn(f"sizes.png not drawn ({err})", stacklevel=2)
        return None
    return figure_to_bgr(fig, dpi=100)


def write_png(path: Path, image: np.ndarray | None) -> Path | None:
    """``image`` as a PNG at ``path``; nothing for None (a chart not drawn)."""
    if image is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"{path}: OpenCV could not write the PNG")
    return path
