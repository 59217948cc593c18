"""Make the CJK font the PDF reports embed: Noto Sans CJK SC (SIL OFL 1.1), cut down to the
characters Chinese appraisals use, so that a machine without CJK fonts prints Chinese.

    python tools/subset_font.py /usr/share/fonts/opentype/noto   # Debian: fonts-noto-cjk

Kept: ASCII and Latin-1, general punctuation, arrows and mathematical signs, CJK symbols and
full-width forms, every character of GB 2312 (its 6,763 hanzi and its symbols), and every
character written in the shipped definitions, the message catalogs, the templates and the
demo. Writes opsperf/web/static/fonts/OpsperfSansSC-{Regular,Bold}.otf (docs/DESIGN.md,
"Reports").
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "opsperf" / "web" / "static" / "fonts"
FAMILY = "Opsperf Sans SC"
RANGES = [
    (0x20, 0x7E), (0xA0, 0xFF), (0x2000, 0x206F), (0x2100, 0x214F), (0x2150, 0x218F),
    (0x2190, 0x21FF), (0x2200, 0x22FF), (0x2460, 0x24FF), (0x2500, 0x257F), (0x25A0, 0x25FF),
    (0x2600, 0x26FF), (0x3000, 0x303F), (0x3200, 0x32FF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF),
]  # fmt: skip
WRITTEN = ["org", "forms", "workflows", "opsperf/translations", "opsperf/web/templates",
           "opsperf/services/demo.py"]  # fmt: skip


def gb2312() -> set[int]:
    found = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                found.add(ord(bytes([high, low]).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return found


def written() -> set[int]:
    found: set[int] = set()
    for name in WRITTEN:
        path = ROOT / name
        for file in [path] if path.is_file() else sorted(path.rglob("*")):
            if file.is_file() and file.suffix in {".yaml", ".po", ".html", ".py", ".txt"}:
                found |= {ord(c) for c in file.read_text(encoding="utf-8") if ord(c) >= 0x80}
    return found


def main(source: str) -> None:
    codepoints = gb2312() | written()
    for low, high in RANGES:
        codepoints |= set(range(low, high + 1))
    OUT.mkdir(parents=True, exist_ok=True)
    for weight in ("Regular", "Bold"):
        collection = TTCollection(str(Path(source) / f"NotoSansCJK-{weight}.ttc"))
        font = next(f for f in collection.fonts if f["name"].getDebugName(1).endswith(" SC"))
        options = subset.Options()
        options.layout_features = ["kern", "vert", "vrt2"]  # no locl: the SC forms only
        options.hinting = False
        options.name_IDs = ["*"]
        options.notdef_outline = True
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=sorted(codepoints))
        subsetter.subset(font)
        names = font["name"]
        for record in names.names:
            if record.nameID in (1, 16):
                record.string = FAMILY
            elif record.nameID == 4:
                record.string = f"{FAMILY} {weight}" if weight != "Regular" else FAMILY
            elif record.nameID == 6:
                record.string = f"OpsperfSansSC-{weight}"
        target = OUT / f"OpsperfSansSC-{weight}.otf"
        font.save(str(target))
        print(f"{target.relative_to(ROOT)}: {len(codepoints)} characters, "
              f"{target.stat().st_size / 1e6:.1f} MB")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/opentype/noto")
