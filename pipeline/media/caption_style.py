"""Caption options: the style a channel chose (sentence, karaoke, pop), its font, size and edges, in the
brand's colours, with the limits the forms and the API validate against."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.media import fonts
from pipeline.media.draw import contrast, parse_color, shade
from pipeline.providers.base import Brand

STYLES = ("sentence", "karaoke", "pop")
SIZE_RANGE = (50, 200)  # percent of the format's standard caption size
EDGE_RANGE = (0, 12)  # outline and shadow, pixels at 1080p


@dataclass(frozen=True)
class CaptionStyle:
    """How captions look. Colours are #RRGGBB; outline and shadow are pixels at 1080p."""

    style: str = "sentence"
    font: str = ""  # a family from available_fonts(); "" is the default (DejaVu Sans, with fallback)
    size: int = 100  # percent
    text_colour: str = "#FFFFFF"
    highlight_colour: str = "#F2B632"
    outline_colour: str = "#101010"
    outline: int = 4
    shadow: int = 2
    boxed: bool = False  # a translucent box behind each line (over footage) instead of the outline

    @classmethod
    def from_channel(cls, channel: dict, brand: Brand, boxed: bool = False) -> "CaptionStyle":
        """The channel's caption options (missing keys: the defaults) in its brand's colours. ValueError
        when a stored option is out of its limits (the edge validates with validate_caption_options)."""
        def get(key: str, default):
            value = channel.get(key)
            return default if value is None or value == "" else value

        options = {"style": str(get("caption_style", "sentence")), "font": str(get("caption_font", "")).strip(),
                   "size": get("caption_size", 100), "outline": get("caption_outline", 4),
                   "shadow": get("caption_shadow", 2)}
        problems = validate_caption_options(**options)
        if problems:
            raise ValueError("Caption options: " + " ".join(problems))
        text = brand.text_color or "#FFFFFF"
        dark = "#%02X%02X%02X" % shade(parse_color(brand.primary_color), 0.25)
        outline = dark if contrast(parse_color(dark), parse_color(text)) >= 4.5 else "#101010"
        return cls(options["style"], options["font"], int(options["size"]), text, brand.accent_color, outline,
                   int(options["outline"]), int(options["shadow"]), boxed)


def available_fonts() -> list[str]:
    """Families a channel may choose for its captions."""
    return fonts.available_fonts()


def validate_caption_options(style: str = "sentence", font: str = "", size=100, outline=4, shadow=2) -> list[str]:
    """Every problem with caption options, each as an instruction (empty when valid)."""
    errors = []
    if style not in STYLES:
        errors.append(f"Caption style must be one of {', '.join(STYLES)} (not {style!r}).")
    if font and font not in available_fonts():
        errors.append(f"Caption font {font!r} is not installed: choose one of {', '.join(available_fonts())}, "
                      "or leave it empty for the default.")
    for label, value, (low, high) in (("Caption size", size, SIZE_RANGE), ("Caption outline", outline, EDGE_RANGE),
                                      ("Caption shadow", shadow, EDGE_RANGE)):
        ok = isinstance(value, int) and not isinstance(value, bool) or (isinstance(value, str) and value.isdigit())
        if not ok or not low <= int(value) <= high:
            errors.append(f"{label} must be a whole number from {low} to {high} (not {value!r}).")
    return errors
