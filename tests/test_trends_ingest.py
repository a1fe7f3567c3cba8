"""Trending CSV ingest: the real files' quirks, rejects with reasons, and idempotent re-imports."""

import json
from datetime import date

import pytest

from pipeline.trends.desk import country_from_name
from pipeline.trends.ingest import TrendImportError, import_file, parse_trending

NEW_HEADER = ("video_id,trending_date,title,channel_title,category_id,publish_time,tags,views,likes,dislikes,"
              "comment_count,thumbnail_link,comments_disabled,ratings_disabled,video_error_or_removed,description")


def new_row(vid, day, title="A title", views="1000", tags='"a"|"b"', desc="line one\\nline two", cat="22"):
    return f'{vid},{day},"{title}","Chan",{cat},2017-11-10T17:13:01.000Z,{tags},{views},10,1,5,https://x/y.jpg,False,False,False,"{desc}"'


def test_youtube_new_schema_with_crlf_tags_and_escaped_newlines():
    text = "\r\n".join([NEW_HEADER, new_row("2kyS6SvSYSE", "17.14.11"), new_row("1ZAPwfrtAFY", "17.14.11", tags="[none]"),
                        new_row("2kyS6SvSYSE", "17.15.11", views="2000")]) + "\r\n"
    parsed = parse_trending(text)
    assert parsed.schema == "youtube-new" and parsed.rows_read == 3 and not parsed.rejected
    first = parsed.rows[0]
    assert first["day"] == date(2017, 11, 14)  # YY.DD.MM
    assert first["tags"] == ["a", "b"] and parsed.rows[1]["tags"] == []
    assert first["rank"] == 1 and parsed.rows[1]["rank"] == 2 and parsed.rows[2]["rank"] == 1  # order within each day
    assert first["likes"] == 10 and first["comments"] == 5 and first["category_id"] == 22
    assert first["publish_time"].isoformat() == "2017-11-10T17:13:01"


def test_v1_schema_with_bom_and_day_month_dates():
    text = ("\ufeffvideo_id,title,channel_title,category_id,tags,views,likes,dislikes,comment_total,thumbnail_link,date\r\n"
            "XpVt6Z1Gjjo,\"1 YEAR OF VLOGGING\",\"Logan Paul Vlogs\",24,logan|paul,4394029,320053,5931,46245,https://x,13.09\r\n"
            "sxcaeyJTx4Co,\"Twelve character id\",\"C\",10,[none],100,1,1,1,https://x,14.09\r\n")
    parsed = parse_trending(text, year=2017)
    assert parsed.schema == "youtube-v1"
    assert [r["day"] for r in parsed.rows] == [date(2017, 9, 13), date(2017, 9, 14)]
    assert parsed.rows[0]["comments"] == 46245 and parsed.rows[0]["tags"] == ["logan", "paul"]
    assert parsed.rows[1]["video_id"] == "sxcaeyJTx4Co"  # the original's 12-character quirk is kept


def test_bad_rows_are_counted_by_reason_never_silently_dropped():
    lines = ["video_id,trending_date,title,category_id,views",
             "#NOME?,17.14.11,Corrupted by a spreadsheet,10,100",
             "#NOME?,17.15.11,Another,10,100",
             "bad id!,17.14.11,Bad,10,100",
             "abcdefghijk,17.99.11,Bad date,10,100",
             "abcdefghijl,17.14.11,Views not a number,10,12k",
             "abcdefghijm,17.14.11,Too,many,fields,10,100",
             "abcdefghijn,17.14.11,,10,100",
             "abcdefghijo,17.14.11,Good,10,100",
             "abcdefghijo,17.14.11,Good again same day,10,150"]
    parsed = parse_trending("\n".join(lines))
    assert parsed.rejected == {"video id corrupted by a spreadsheet (#NOME?)": 2, "invalid video id": 1,
                               "unreadable trending date": 1, "a count is not a whole number": 1,
                               "wrong number of fields": 1, "empty title": 1}
    assert len(parsed.rows) == 1 and parsed.duplicates == 1 and parsed.rows_read == 9


def test_missing_days_are_reported():
    lines = ["video_id,trending_date,title,category_id,views", "abcdefghijk,18.09.01,A,10,100",
             "abcdefghijk,18.12.01,A,10,200"]
    assert [d.isoformat() for d in parse_trending("\n".join(lines)).missing_days()] == ["2018-01-10", "2018-01-11"]


def test_a_file_that_is_not_a_trending_csv():
    with pytest.raises(TrendImportError, match="needs video_id, views and trending_date"):
        parse_trending("name,age\nbob,3\n")


def test_import_is_idempotent_and_keeps_the_latest_title(db, tmp_path):
    f = tmp_path / "youtube_trending_CA_x.csv"
    f.write_text("\n".join(["video_id,trending_date,title,category_id,views", "abcdefghijk,17.14.11,Old title,10,100",
                            "abcdefghijk,17.15.11,New title,10,200", "#NOME?,17.15.11,X,10,5"]), encoding="utf-8")
    (tmp_path / "youtube_category_ids_US.json").write_text(json.dumps({"items": [{"id": "10", "snippet": {"title": "Music"}}]}))
    first = import_file(db, f, "CA")
    assert (first.inserted, first.duplicates, first.rejected) == (2, 0, {"video id corrupted by a spreadsheet (#NOME?)": 1})
    again = import_file(db, f, "ca")
    assert (again.inserted, again.duplicates) == (0, 2)
    assert db.query("SELECT title, category FROM trend_videos") == [("New title", "Music")]
    assert db.query_one("SELECT count(*) FROM trend_snapshots")[0] == 2
    assert db.query_one("SELECT count(*) FROM trend_imports")[0] == 2  # every import is on record
    assert "rejected 1" in first.summary()


@pytest.mark.parametrize("country", ["", "CAN", "1A"])
def test_country_must_be_two_letters(db, tmp_path, country):
    f = tmp_path / "x.csv"
    f.write_text("video_id,trending_date,title,category_id,views\n")
    with pytest.raises(TrendImportError, match="two-letter"):
        import_file(db, f, country)


def test_non_utf8_file(db, tmp_path):
    f = tmp_path / "x.csv"
    f.write_bytes("video_id,trending_date,title,category_id,views\nabcdefghijk,17.14.11,Caf\xe9,1,1\n".encode("latin-1"))
    with pytest.raises(TrendImportError, match="not UTF-8"):
        import_file(db, f, "CA")


@pytest.mark.parametrize("name, country", [("youtube_trending_CA_views_2017.csv", "CA"), ("USvideos.csv", None),
                                           ("trending-US.csv", "US")])
def test_country_from_file_name(name, country):
    assert country_from_name(name) == country


def test_csv_limits_are_enforced_with_a_clear_message(tmp_path, monkeypatch):
    from pipeline.trends import ingest
    from pipeline.trends.ingest import CsvTrendSource, TrendImportError, parse_trending
    header = "video_id,trending_date,title,channel_title,category_id,publish_time,tags,views,likes,dislikes,comment_count\n"
    ok = "abcdefghijk,17.14.11,A title,Ch,22,2017-11-13T17:13:01.000Z,a|b,100,1,0,1\n"
    huge = "bcdefghijkl,17.14.11," + "x" * 20_000 + ",Ch,22,2017-11-13T17:13:01.000Z,a|b,100,1,0,1\n"
    parsed = parse_trending(header + ok + huge)
    assert len(parsed.rows) == 1 and parsed.rejected == {"a field longer than 10,000 characters": 1}
    monster = header + ok + "cdefghijklm,17.14.11,\"" + "y" * 200_000 + "\",Ch,22,,a,1,1,0,1\n"
    with pytest.raises(TrendImportError, match="Line .* cannot be read"):
        parse_trending(monster)
    path = tmp_path / "big_US.csv"
    path.write_text(header + ok)
    monkeypatch.setattr(ingest, "MAX_CSV_BYTES", 64)
    with pytest.raises(TrendImportError, match="may be at most 0 MB|Split it by date"):
        CsvTrendSource(path, "US").fetch()


def test_oversized_client_secret_and_token_files_are_refused(tmp_path):
    from pipeline.youtube.accounts import AccountError, parse_client_config, parse_token
    with pytest.raises(AccountError, match="about a kilobyte"):
        parse_client_config("{" + " " * 70_000 + "}")
    with pytest.raises(AccountError, match="about a kilobyte"):
        parse_token("{" + " " * 70_000 + "}")


def test_the_data_says_how_old_it_is():
    from datetime import date, datetime

    from pipeline.queries import describe_freshness
    now = datetime(2026, 12, 1, 12, 0)
    sample = {"first_day": date(2017, 11, 14), "last_day": date(2018, 6, 14), "imported_at": now,
              "source": "youtube_trending_CA_views_2017-11-14_to_2018-06-14.csv"}
    said = describe_freshness(sample, now)
    assert said.startswith("Bundled sample from Jun 2018") and "8 years old" in said and "not now" in said
    fetched = {**sample, "last_day": date(2026, 12, 1), "first_day": date(2026, 11, 28), "source": "youtube:CA",
               "imported_at": datetime(2026, 12, 1, 10, 0)}
    assert describe_freshness(fetched, now).startswith("YouTube's trending list, fetched 2 h ago")
    assert describe_freshness({"last_day": None}) == "No trending days recorded yet."


def test_channel_title_is_filled_where_the_file_has_it(db):
    from conftest import ROOT
    folder = ROOT / "data" / "trends"
    import_file(db, folder / "youtube_trending_US_2017-11-14_to_11-28.csv", "US")
    import_file(db, folder / "youtube_trending_US_v1_2017-09-13_to_10-22.csv", "US")
    import_file(db, folder / "youtube_trending_CA_views_2017-11-14_to_2018-06-14.csv", "CA")  # no channel column
    counts = {c: (n, filled) for c, n, filled in db.query(
        "SELECT country, count(*), count(channel_title) FROM trend_videos GROUP BY country")}
    assert counts["US"][0] == counts["US"][1] > 3000  # every US video names its channel, from both schemas
    assert counts["CA"][1] == 0  # none invented: null, never "" or "None"
    assert db.query("SELECT channel_title FROM trend_videos WHERE country = 'US'"
                    " AND video_id IN ('2kyS6SvSYSE', 'XpVt6Z1Gjjo') ORDER BY video_id") == [
        ("CaseyNeistat",), ("Logan Paul Vlogs",)]


def test_a_later_file_without_channel_names_keeps_the_known_ones(db, tmp_path):
    with_names = tmp_path / "a.csv"
    with_names.write_text("video_id,trending_date,title,channel_title,category_id,views\n"
                          "abcdefghijk,17.14.11,A title,The Channel,10,100\n", encoding="utf-8")
    without = tmp_path / "b.csv"
    without.write_text("video_id,trending_date,title,category_id,views\nabcdefghijk,17.15.11,A title,10,200\n",
                       encoding="utf-8")
    import_file(db, with_names, "US")
    import_file(db, without, "US")
    assert db.query("SELECT channel_title FROM trend_videos") == [("The Channel",)]
