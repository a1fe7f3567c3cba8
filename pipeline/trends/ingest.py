"""Loading YouTube trending snapshots into DuckDB, quirks and all.

The real files (Kaggle's youtube-new and its older v1) carry quirks this parser
handles: ``YY.DD.MM`` trending dates, the v1 ``date`` column (``DD.MM``, no
year), a UTF-8 BOM, CRLF line ends, line breaks stored as the two characters
``\\n``, ``[none]`` for no tags, ids that Excel corrupted to ``#NOME?``, and
missing days. Bad rows are rejected with a count per reason, never silently,
and a re-import of the same data adds nothing twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl

from pipeline.db import Database

VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{10,12}$")  # 11 is the rule; v1 holds one 12-character id
MAX_CSV_BYTES = 200 << 20  # the upload limit of the Trends page too (.streamlit/config.toml maxUploadSize)
MAX_FIELD_CHARS = 10_000  # a title is 100, tags 500, a description 5,000: longer is not a trending row
CORRUPTED_IDS = {"#NOME?", "#NAME?", "#NOMBRE?", "#NOM?"}
CATEGORY_FILES = {"US": "youtube_category_ids_US.json", "CA": "youtube_category_ids_CA.json"}


class TrendImportError(ValueError):
    """The file cannot be imported at all (not a trending CSV): say what is expected."""


@dataclass
class ParsedTrends:
    rows: list[dict]
    rows_read: int
    rejected: Counter = field(default_factory=Counter)
    duplicates: int = 0
    schema: str = "youtube-new"

    @property
    def days(self) -> list[date]:
        return sorted({r["day"] for r in self.rows})

    def missing_days(self) -> list[date]:
        days = self.days
        if not days:
            return []
        have = set(days)
        return [days[0] + timedelta(d) for d in range((days[-1] - days[0]).days + 1) if days[0] + timedelta(d) not in have]


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    if not re.fullmatch(r"-?\d+", value):
        raise ValueError(value)
    return int(value)


def _tags(value: str | None) -> list[str]:
    value = (value or "").strip()
    if not value or value == "[none]":
        return []
    return [t.strip().strip('"').strip() for t in value.split("|") if t.strip().strip('"').strip()]


def _day(row: dict, year: int) -> date:
    if row.get("trending_date"):
        return datetime.strptime(row["trending_date"].strip(), "%y.%d.%m").date()
    if row.get("date"):  # v1: DD.MM, the year is not in the file
        d, m = row["date"].strip().split(".")
        return date(year, int(m), int(d))
    raise ValueError("no date")


def _publish(value: str | None) -> datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None


def parse_trending(text: str, year: int = 2017) -> ParsedTrends:
    """Parse a trending CSV (either schema) into canonical rows; rank is the order within each day."""
    text = text.lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = set(reader.fieldnames or [])
    if "video_id" not in columns or not ({"trending_date", "date"} & columns) or "views" not in columns:
        raise TrendImportError("This is not a YouTube trending CSV: it needs video_id, views and trending_date "
                               f"(or the older date) columns; found {', '.join(sorted(columns)) or 'none'}.")
    schema = "youtube-new" if "trending_date" in columns else "youtube-v1"
    parsed = ParsedTrends([], 0, schema=schema)
    seen: set[tuple[str, date]] = set()
    rank: Counter = Counter()
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a field past the csv module's own limit, an unclosed quote
            raise TrendImportError(f"Line {reader.line_num} of the CSV cannot be read ({exc}): fix or remove it "
                                   f"and import again (a field may hold at most {MAX_FIELD_CHARS:,} characters).") from exc
        parsed.rows_read += 1
        if None in row or any(v is None for v in row.values()):
            parsed.rejected["wrong number of fields"] += 1
            continue
        if any(len(v) > MAX_FIELD_CHARS for v in row.values()):
            parsed.rejected[f"a field longer than {MAX_FIELD_CHARS:,} characters"] += 1
            continue
        vid = row["video_id"].strip()
        if vid in CORRUPTED_IDS:
            parsed.rejected["video id corrupted by a spreadsheet (#NOME?)"] += 1
            continue
        if not VIDEO_ID.match(vid):
            parsed.rejected["invalid video id"] += 1
            continue
        try:
            day = _day(row, year)
        except (ValueError, KeyError):
            parsed.rejected["unreadable trending date"] += 1
            continue
        try:
            views = _int(row["views"])
            likes, dislikes = _int(row.get("likes")), _int(row.get("dislikes"))
            comments = _int(row.get("comment_count") or row.get("comment_total"))
            category = _int(row.get("category_id"))
        except ValueError:
            parsed.rejected["a count is not a whole number"] += 1
            continue
        if views is None or views < 0:
            parsed.rejected["views missing or negative"] += 1
            continue
        title = (row.get("title") or "").strip()
        if not title:
            parsed.rejected["empty title"] += 1
            continue
        if (vid, day) in seen:
            parsed.duplicates += 1
            continue
        seen.add((vid, day))
        rank[day] += 1
        parsed.rows.append({
            "video_id": vid, "day": day, "rank": rank[day], "title": title.replace("\\n", " "),
            "channel_title": (row.get("channel_title") or "").strip() or None, "category_id": category,
            "publish_time": _publish(row.get("publish_time")), "tags": _tags(row.get("tags")),
            "views": views, "likes": likes, "dislikes": dislikes, "comments": comments,
        })
    return parsed


def load_categories(folder: Path) -> dict[int, str]:
    """Category id -> name from the API-format JSON files (US first: CA lacks id 29)."""
    names: dict[int, str] = {}
    for country in ("CA", "US"):
        path = folder / CATEGORY_FILES[country]
        if path.exists():
            for item in json.loads(path.read_text(encoding="utf-8")).get("items", []):
                names[int(item["id"])] = item["snippet"]["title"]
    return names


@dataclass
class ImportReport:
    source: str
    country: str
    rows_read: int
    inserted: int
    duplicates: int
    rejected: dict[str, int]
    missing_days: list[str]
    first_day: str | None
    last_day: str | None

    def summary(self) -> str:
        parts = [f"{self.source}: {self.rows_read} rows read, {self.inserted} new, {self.duplicates} already known"]
        if self.rejected:
            parts.append("rejected " + ", ".join(f"{n} ({reason})" for reason, n in self.rejected.items()))
        if self.missing_days:
            parts.append(f"{len(self.missing_days)} days missing in the file ({', '.join(self.missing_days[:4])}"
                         f"{'…' if len(self.missing_days) > 4 else ''})")
        return "; ".join(parts)


def store(db: Database, parsed: ParsedTrends, country: str, source: str, sha256: str | None,
          categories: dict[int, str] | None = None) -> ImportReport:
    """Insert parsed rows (new videos and snapshots only) and record the import, in one transaction."""
    country = country.upper()
    categories = categories or {}
    frame = pl.DataFrame(parsed.rows, schema={
        "video_id": pl.String, "day": pl.Date, "rank": pl.Int32, "title": pl.String, "channel_title": pl.String,
        "category_id": pl.Int32, "publish_time": pl.Datetime, "tags": pl.List(pl.String), "views": pl.Int64,
        "likes": pl.Int64, "dislikes": pl.Int64, "comments": pl.Int64})
    # the latest title and tags of each video win
    latest = frame.sort("day").unique(subset="video_id", keep="last").with_columns(
        pl.col("category_id").map_elements(lambda c: categories.get(c), return_dtype=pl.String).alias("category"))
    with db.write() as cur:
        import_id = cur.execute("SELECT nextval('trend_import_ids')").fetchall()[0][0]
        cur.register("incoming", frame)
        cur.register("latest", latest)
        before = cur.execute("SELECT count(*) FROM trend_snapshots WHERE country = ?", [country]).fetchall()[0][0]
        cur.execute(
            "INSERT INTO trend_snapshots SELECT ?, video_id, day, rank, views, likes, dislikes, comments, ?"
            " FROM incoming ON CONFLICT DO NOTHING", [country, import_id])
        inserted = cur.execute("SELECT count(*) FROM trend_snapshots WHERE country = ?", [country]).fetchall()[0][0] - before
        cur.execute(
            "INSERT INTO trend_videos SELECT ?, video_id, title, channel_title, category_id, category, publish_time,"
            " tags FROM latest ON CONFLICT (country, video_id) DO UPDATE SET title = excluded.title,"
            " channel_title = coalesce(excluded.channel_title, trend_videos.channel_title),"
            " category_id = coalesce(excluded.category_id, trend_videos.category_id),"
            " category = coalesce(excluded.category, trend_videos.category),"
            " publish_time = coalesce(excluded.publish_time, trend_videos.publish_time),"
            " tags = CASE WHEN len(excluded.tags) > 0 THEN excluded.tags ELSE trend_videos.tags END", [country])
        cur.unregister("incoming")
        cur.unregister("latest")
        duplicates = parsed.duplicates + (len(parsed.rows) - inserted)
        missing = [d.isoformat() for d in parsed.missing_days()]
        cur.execute(
            "INSERT INTO trend_imports (id, source, sha256, country, rows_read, inserted, duplicates, rejected, missing_days)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [import_id, source, sha256, country, parsed.rows_read, inserted, duplicates, json.dumps(dict(parsed.rejected)),
             json.dumps(missing)])
    days = parsed.days
    return ImportReport(source, country, parsed.rows_read, inserted, duplicates, dict(parsed.rejected), missing,
                        days[0].isoformat() if days else None, days[-1].isoformat() if days else None)


class CsvTrendSource:
    """A trending CSV file (Kaggle youtube-new or v1 schema) as a TrendSource."""

    name = "csv"

    def __init__(self, path: Path, country: str, year: int = 2017):
        self.path, self.country, self.year = Path(path), country.upper(), year

    def fetch(self) -> ParsedTrends:
        try:
            size = self.path.stat().st_size
            if size > MAX_CSV_BYTES:
                raise TrendImportError(f"{self.path.name} is {size / 2**20:,.0f} MB: a trending CSV may be at most "
                                       f"{MAX_CSV_BYTES >> 20} MB. Split it by date and import the parts.")
            raw = self.path.read_bytes()
        except OSError as exc:
            raise TrendImportError(f"Cannot read {self.path}: {exc.strerror or exc}.") from exc
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise TrendImportError(f"{self.path.name} is not UTF-8 text: save it as UTF-8 CSV and import again.") from exc
        return parse_trending(text, self.year)

    def fingerprint(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def import_file(db: Database, path: Path, country: str, categories_dir: Path | None = None, year: int = 2017) -> ImportReport:
    if not re.fullmatch(r"[A-Za-z]{2}", country or ""):
        raise TrendImportError(f"Country must be a two-letter code such as CA or US, not {country!r}.")
    source = CsvTrendSource(path, country, year)
    parsed = source.fetch()
    categories = load_categories(categories_dir or Path(path).parent)
    return store(db, parsed, country, Path(path).name, source.fingerprint(), categories)
