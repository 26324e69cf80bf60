"""PNG or JPEG bytes → the pixel row an image model reads, with Pillow, within limits.

One function serves both sides, so an image is read the same way when a training job
decodes a dataset's files and when an endpoint decodes a request: the image is opened
by content (PNG or JPEG only; no other Pillow plugin is tried), refused past
:data:`MAX_PIXELS` from its header before a pixel is decoded (decompression bombs),
decoded whole (a truncated file is refused, never padded), turned upright by its EXIF
orientation, brought to 8 bits (16-bit PNG), converted to grayscale or RGB
(transparency composited onto black), and resized to the model's grid (area
averaging when shrinking, bilinear when enlarging).

The row's values are the 8-bit intensities scaled so that 255 is the model's
``value_max`` (the value full intensity had in its training columns: 16 for the digits).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from shipyard.errors import InvalidRequest, ServerUnavailable

#: The most pixels an image may declare (a 4,096 × 4,096 photo is 16.8 M).
MAX_PIXELS = 20_000_000
#: The formats read, by Pillow's names (recognised by content, never by a header).
FORMATS = ("PNG", "JPEG")


def _pillow() -> Any:
    try:
        from PIL import Image
    except ModuleNotFoundError:
        raise ServerUnavailable("Decoding images needs Pillow, which is not installed here; "
                                "run pip install 'shipyard[images]'.") from None
    return Image


def decode_pixels(data: bytes, height: int, width: int, channels: int,
                  where: str = "the image") -> np.ndarray:
    """``data`` (PNG or JPEG) as a ``height`` × ``width`` × ``channels`` array of 0..255.

    Raises:
        InvalidRequest: empty, not a PNG or JPEG, more than :data:`MAX_PIXELS` pixels, or
            truncated or damaged (the message names ``where``).
    """
    Image = _pillow()
    from PIL import ImageOps, UnidentifiedImageError

    if not data:
        raise InvalidRequest(f"{where.capitalize()} is empty; send the bytes of a PNG or "
                             "JPEG image.")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as img:
                w, h = img.size
                if w * h > MAX_PIXELS:
                    raise InvalidRequest(
                        f"{where.capitalize()} is {w} × {h} pixels, more than the "
                        f"{MAX_PIXELS:,} accepted; scale it down before sending it.")
                img.load()
                img = ImageOps.exif_transpose(img)  # a photo's orientation, as it is shown
                if img.mode.startswith("I;16") or img.mode == "I":  # 16-bit: to 8 bits
                    wide = np.asarray(img, dtype="float64") / 257.0
                    img = Image.fromarray(np.clip(np.round(wide), 0, 255).astype(np.uint8), "L")
                mode = "L" if channels == 1 else "RGB"
                if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                    rgba = img.convert("RGBA")
                    img = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)),
                                                rgba)
                img = img.convert(mode)
                shrink = w > width or h > height
                img = img.resize((width, height), Image.Resampling.BOX if shrink
                                 else Image.Resampling.BILINEAR)
                pixels = np.asarray(img, dtype="float64")
    except InvalidRequest:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidRequest(f"{where.capitalize()} declares more than {MAX_PIXELS:,} pixels "
                             "(a decompression bomb, or a huge image); scale it down.") from None
    except UnidentifiedImageError:
        raise InvalidRequest(f"{where.capitalize()} is not a PNG or JPEG image (recognised by "
                             "content); send PNG or JPEG bytes.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidRequest(f"{where.capitalize()} is truncated or damaged ({exc}); send the "
                             "whole file.") from None
    return pixels.reshape(height, width, channels)


def image_row(data: bytes, image_input: Mapping[str, Any],
              where: str = "the image") -> dict[str, float]:
    """``data`` as one input row of a model whose ``image_input`` is given (see
    :meth:`shipyard.bundle.Framework.image_input`): pixel column → value."""
    pixels = decode_pixels(data, int(image_input["height"]), int(image_input["width"]),
                           int(image_input["channels"]), where)
    scaled = pixels.reshape(-1) * (float(image_input["value_max"]) / 255.0)
    return dict(zip(image_input["columns"], scaled.tolist(), strict=True))
