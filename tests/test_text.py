"""The first two pieces of the `clean` stage: normalization and language id (pure functions),
on adversarial strings and on real text from the shared data (news, books, forums, CC WARCs)."""

from __future__ import annotations

import itertools
import pickle
import re
import sys
import types
from pathlib import Path

import pytest

from corpus.config import RULES_DIR, ConfigError, load_config
from corpus.text.langid import LanguageIdentifier, chunk_spans
from corpus.text.normalize import (
    Normalizer,
    collapse_spaces,
    fix_mojibake,
    load_boilerplate,
    remove_lines,
)
from corpus.text.scripts import script_counts, script_shares

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data not found at {DATA}")

ZH = "北京大学的研究人员今天发布了一份关于城市交通的长篇报告，详细分析了过去十年的变化。"
ZH_HANT = "話說天下大勢，分久必合，合久必分。周末七國分爭，併入於秦。及秦滅之後，楚、漢分爭。"
EN = "The committee published a long report on urban transport and its changes over ten years."
JA = "東京大学の研究者は今日、都市交通に関する長い報告書を発表しました。十年間の変化を詳しく分析しています。"
KO = "서울대학교 연구진은 오늘 도시 교통에 관한 긴 보고서를 발표했습니다. 지난 십 년의 변화를 분석했습니다."


@pytest.fixture(scope="module")
def norm():
    return Normalizer()


@pytest.fixture(scope="module")
def lid():
    return LanguageIdentifier()


@pytest.fixture(scope="module")
def real_docs():
    """About 1,400 real documents: CC WARC pages, news, books (zh and en), forum threads."""
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    from corpus.ingest.books import read_books
    from corpus.ingest.forums import read_forums
    from corpus.ingest.news import read_news
    from corpus.ingest.warc import read_warc

    cfg = load_config()["ingest"]
    docs = []

    def take(source, rows, n):
        docs.extend((source, r["text"]) for r in itertools.islice(
            (r for r in rows if r["reason"] is None), n))

    for path in sorted((DATA / "warc").glob("*.warc.gz")):
        take("web", read_warc(str(path), cfg["warc"]), 100)
    take("news", read_news(str(DATA / "news" / "sogoucs_sohu_news_sample.xml.dat"), cfg["news"]), 300)
    take("news", read_news(str(DATA / "news" / "lcsts_PART_III.txt"), cfg["news"]), 300)
    for name in ("pg1342.txt", "pg84.txt"):
        take("books_en", read_books(str(DATA / "books" / "en_gutenberg" / name), cfg["books"]), 40)
    for name in ("hongloumeng.txt", "xiyouji.txt"):
        take("books_zh", read_books(str(DATA / "books" / "zh_classical_novels" / name), cfg["books"]), 40)
    take("forums", read_forums(str(DATA / "forums" / "lccc_cdial_gpt_toy" / "toy_valid.txt"),
                               cfg["forums"]), 500)
    return docs


# --- normalization -------------------------------------------------------------------------

def test_invisible_and_control_characters_go_newlines_and_tabs_stay(norm):
    text = ("a\u200bb\u200cc\u200dd\u2060e\ufeff f\u00adg\x00h\x07i\x1bj\x7fk\x85l\x9fm"
            "\ud800n\udfffo\ufffep\nq\tr\r\ns\rt\u2028u")
    out, counts = norm(text)
    assert out == "abcde fghijklmnop\nq\tr\ns\nt\nu"
    assert counts["control_chars"] == 15
    assert all(isinstance(v, float) for v in counts.values())


def test_nfc_and_replacement_character(norm):
    out, _ = norm("cafe\u0301 \ufffd")
    assert out == "café \ufffd"  # composed; U+FFFD kept for the rules to count


def test_fullwidth_letters_and_digits_become_ascii_cjk_punctuation_stays(norm):
    out, counts = norm("ＡＢＣ１２３ｘｙｚ\u3000价格：１２０元，（含税）。！？；")
    assert out == "ABC123xyz 价格：120元，（含税）。！？；"
    assert counts["fullwidth_chars"] == 13


def test_t2s_only_when_enabled():
    out, counts = Normalizer({"t2s": True})(ZH_HANT)
    assert out == "话说天下大势，分久必合，合久必分。周末七国分争，并入于秦。及秦灭之后，楚、汉分争。"
    assert counts["t2s_chars"] > 5
    assert Normalizer()(ZH_HANT)[0] == ZH_HANT


def test_normalizer_pickles_for_spark():
    n = pickle.loads(pickle.dumps(Normalizer({"t2s": True})))
    assert n("臺灣")[0] == "台湾"


def test_whitespace(norm):
    text = "  a  b\u00a0\u00a0c \t\nd\u2003e   \n\n\n\n\t f\tg\n \n \n h  "
    out, _ = norm(text)
    assert out == "a b c\nd e\n\nf\tg\n\nh"


def test_boilerplate_lines_removed_content_kept(norm):
    long_line = ("版权问题一直是出版业关注的焦点，本文从著作权法的角度梳理了近年来的重要判例和"
                 "行业实践，并讨论数字出版环境下版权所有者的权利边界。")
    text = "\n".join([
        "首页 > 新闻 > 国内",
        ZH,
        "上一篇：关于召开年会的通知",
        "下一篇文章将介绍如何安装Python。",
        "分享到：微信 微博 QQ空间",
        "扫一扫在手机打开当前页",
        long_line,
        "责任编辑：张三",
        "Copyright © 2020 Example Inc. All Rights Reserved.",
        "京ICP备12345678号-1",
        "Back to top",
        "We use cookies to improve your experience.",
        "Home | About | Contact",
        "Next, we heat the pan.",
        "点击查看大图",
    ])
    out, counts = norm(text)
    assert out.split("\n") == [ZH, "下一篇文章将介绍如何安装Python。", long_line,
                               "Next, we heat the pan."]
    assert counts["boilerplate_lines"] == 11
    assert counts["chars_removed"] == len(text) - len(out)


def test_boilerplate_line_length_limit():
    line = "本站所有内容版权所有，未经许可不得转载"
    assert Normalizer()(f"{ZH}\n{line}")[0] == ZH
    assert Normalizer({"boilerplate_max_chars": 10})(f"{ZH}\n{line}")[0] == f"{ZH}\n{line}"
    assert Normalizer({"boilerplate": False})(f"{ZH}\n{line}")[0] == f"{ZH}\n{line}"


def test_mojibake_fixed_only_where_certain(norm):
    zh_bad = "中文测试，这是乱码。".encode().decode("cp1252", "replace")
    assert fix_mojibake("ä¸­æ–‡ cafÃ© Â£5 â€™ ðŸ˜€")[0] == "中文 café £5 ’ 😀"
    # real accented text, a lone accented capital before a symbol: untouched
    for text in ["Ça coûte 5 € à Noël, «ÉTÉ» — naïve façade", "CAFÉ»", "Ã", "Ü“"]:
        assert fix_mojibake(text) == (text, 0)
    lat = "Größe: ÄÖÜ äöü ß, São Paulo".encode().decode("latin-1")
    assert norm(lat)[0] == "Größe: ÄÖÜ äöü ß, São Paulo"
    out, counts = norm("乱码：" + "中文".encode().decode("latin-1") + "。")
    assert out == "乱码：中文。" and counts["mojibake_fixed"] == 1
    assert "\ufffd" in zh_bad  # cp1252 leaves some bytes undecodable: not certain, left alone
    assert norm(zh_bad)[1]["mojibake_fixed"] < 2


def _cp1252_lenient(data: bytes) -> str:
    """Windows-1252 as browsers decode it: undefined bytes become the C1 control."""
    return "".join(bytes([b]).decode("cp1252", "ignore") or chr(b) for b in data)


@needs_data
def test_mojibake_of_real_chinese_lines_round_trips(real_docs):
    lines = [l for source, t in real_docs if source == "news" for l in t.split("\n") if l][:300]
    assert lines
    for line in lines:
        for garbled in (_cp1252_lenient(line.encode("utf-8")), line.encode("utf-8").decode("latin-1")):
            assert fix_mojibake(garbled)[0] == line


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"clean\.normalize\.unicde"):
        Normalizer({"unicde": True})
    with pytest.raises(ConfigError, match=r"clean\.normalize\.t2s.*true or false"):
        Normalizer({"t2s": "yes"})
    with pytest.raises(ConfigError, match=r"boilerplate_max_chars.*integer"):
        Normalizer({"boilerplate_max_chars": True})
    with pytest.raises(ConfigError, match=r"boilerplate_lists.*list of strings"):
        Normalizer({"boilerplate_lists": "zh"})
    bad = tmp_path / "bp.yaml"
    bad.write_text("zh:\n  - '上一篇'\n  - '([a-z]'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"{bad}: zh[1]")):
        Normalizer({"boilerplate_file": str(bad), "boilerplate_lists": ["zh"]})
    bad.write_text("zh:\n  - '上一篇'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"{bad}: no pattern list 'en'")):
        Normalizer({"boilerplate_file": str(bad), "boilerplate_lists": ["zh", "en"]})
    bad.write_text("zh:\n  - '.*'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="matches an empty line"):
        Normalizer({"boilerplate_file": str(bad), "boilerplate_lists": ["zh"]})
    with pytest.raises(ConfigError, match=r"clean\.langid\.max_chunks"):
        LanguageIdentifier({"max_chunks": "64"})
    with pytest.raises(ConfigError, match=r"clean\.langid\.aliases"):
        LanguageIdentifier({"aliases": ["wuu"]})
    with pytest.raises(ConfigError, match=r"clean\.langid\.zh_min_share"):
        LanguageIdentifier({"zh_min_share": 3})
    with pytest.raises(ConfigError, match=r"clean\.langid\.modle"):
        LanguageIdentifier({"modle": "x"})
    with pytest.raises(ConfigError, match="model not found"):
        LanguageIdentifier({"model": str(tmp_path / "missing.ftz")})


def test_custom_boilerplate_file(tmp_path):
    path = tmp_path / "bp.yaml"
    path.write_text("any: []\nmine:\n  - '^广告$'\n  - 'sponsored by'\n", encoding="utf-8")
    n = Normalizer({"boilerplate_file": str(path), "boilerplate_lists": ["mine"]})
    assert n(f"广告\n{ZH}\nThis post is SPONSORED BY Acme\n广告位招租")[0] == f"{ZH}\n广告位招租"


@needs_data
def test_real_documents_normalize_idempotently(norm, real_docs):
    changed = 0
    for _, text in real_docs:
        out, counts = norm(text)
        assert norm(out)[0] == out
        assert counts["chars_removed"] == len(text) - len(out)
        changed += out != text
    assert changed > 0


@needs_data
def test_boilerplate_regex_equals_a_line_by_line_reference(norm, real_docs):
    patterns = load_boilerplate(RULES_DIR / "boilerplate.yaml", ["any", "zh", "en"])
    ref = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE | re.MULTILINE)
    extra = ["上一篇：a\n下一篇：b", "分享到\n微信 微博", "x\n\n© 2020\n", "Home | About | Contact"]
    removed = 0
    for text in [t for _, t in real_docs] + extra:
        text = collapse_spaces(text)
        lines = text.split("\n")
        expected = "\n".join(l for l in lines if not (0 < len(l) <= 60 and ref.search(l)))
        out, n = remove_lines(norm._boilerplate, text)
        assert out == expected
        removed += n
    assert removed > 5


def test_boilerplate_regex_on_tricky_patterns():
    import random

    from corpus.text.normalize import compile_boilerplate

    patterns = [r"(?>ab)c", r"a*b", r"(?:x|)y", r"\d+元", r"[^a]b$", r"(?=foo)fo", r"x?y?z",
                r"^(?:Q|R)+S", r"(?i:AbC)", r"\bend\b", r"^\W+$", r"中(?:文|国)?人"]
    ref = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE | re.MULTILINE)
    rx = compile_boilerplate(patterns, 8)
    rnd = random.Random(7)
    alphabet = ["a", "b", "c", "x", "y", "z", "q", "r", "s", "foo", "end", " ", "!", "1", "元",
                "中", "文", "人", "ABC", "\n"]
    for _ in range(3000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 25)))
        expected = "\n".join(l for l in text.split("\n") if not (0 < len(l) <= 8 and ref.search(l)))
        assert remove_lines(rx, text)[0] == expected, text


# --- scripts -------------------------------------------------------------------------------

def test_script_counts():
    c = script_counts("中文English 123 ひらがな・カタカナー 한국어 ＡＢ１２\u3000々，Ωé")
    assert c == {"han": 3, "kana": 9, "hangul": 3, "latin": 10, "digits": 5, "other": 3,
                 "letters": 26, "chars": 33}
    assert script_counts("𠀀𠀁a") == {"han": 2, "kana": 0, "hangul": 0, "latin": 1, "digits": 0,
                                      "other": 0, "letters": 3, "chars": 3}
    shares = script_shares(ZH)
    assert set(shares) == {"han", "kana", "hangul", "latin", "digits", "other"}
    assert shares["han"] > 0.9 and abs(sum(shares.values()) - 1) < 1e-9
    assert script_shares("  \n") == dict.fromkeys(shares, 0.0)


# --- language id ---------------------------------------------------------------------------

def test_single_languages(lid):
    for text, lang in [(ZH, "zh"), (ZH_HANT, "zh"), (EN, "en"), (JA, "ja"), (KO, "ko")]:
        r = lid.identify(text)
        assert r.lang == lang, (text, r)
        assert 0.5 < r.score <= 1.0 and r.shares[lang] == 1.0


def test_mixed_chinese_english_document_is_chinese(lid):
    # more English lines than Chinese ones, yet Han is 30%+ of the letters: Chinese first
    doc = "\n".join([EN, ZH, EN, EN, ZH + ZH, EN, ZH + ZH])
    r = lid.identify(doc)
    assert r.shares["en"] > r.shares["zh"] >= 0.3
    assert r.lang == "zh"
    assert lid.identify("\n".join([EN] * 6 + [ZH])).lang == "en"  # a little Chinese: English


def test_japanese_needs_kana_korean_needs_hangul(lid):
    kanji_only = "東京都知事選挙結果発表\n" + "国家主席習近平会見日本首相岸田文雄外務大臣同席" * 2
    assert lid.identify(kanji_only).lang == "zh"
    assert lid.identify(f"{JA}\n{EN}\n{JA}").lang == "ja"
    assert lid.identify(f"{ZH}\n{JA}\n{JA}").shares["ja"] > 0.5
    # Chinese web slang with a stray の stays Chinese
    assert lid.identify("今天的天气真好の我们一起去公园散步吧大家都来参加这个活动好不好呀").lang == "zh"
    for script in (True, False):
        r = LanguageIdentifier({"script_cjk": script}).identify(KO)
        assert r.lang == "ko"


def test_empty_and_letterless(lid):
    for text in ["", "\n\n", "12345 67890 !!! ---", "😀😀😀"]:
        assert lid.identify(text).lang == "und" and lid.identify(text).score == 0.0


def test_identify_many_matches_identify(lid):
    texts = [ZH, EN, "", JA, KO, "\n".join([EN, ZH, EN]), ZH_HANT]
    assert lid.identify_many(texts) == [lid.identify(t) for t in texts]
    assert lid.identify_many(iter(texts)) == lid.identify_many(texts)


def test_whole_document_not_just_the_start(lid):
    doc = "\n".join(["Home", "Menu", "Login"] + [ZH] * 10)
    assert lid.identify(doc).lang == "zh"
    long_doc = "\n".join([EN] * 500 + [ZH] * 500)
    r = lid.identify(long_doc)
    assert 0.2 < r.shares["zh"] < 0.6 and r.lang == "zh"


def test_chunks_cover_the_text_and_respect_the_limits():
    text = "标题\n短\n" + ZH * 3 + "\nab\n" + "x" * 1200 + "\nend\n\n"
    spans = chunk_spans(text, 30, 500)
    assert all(0 < e - s <= 500 and text[s] != "\n" for s, e in spans)
    covered = {i for s, e in spans for i in range(s, e)}
    assert all(i in covered for i, ch in enumerate(text) if ch != "\n")
    assert chunk_spans("", 30, 500) == [] and chunk_spans("\n\n", 30, 500) == []
    lid = LanguageIdentifier({"max_chunks": 4})
    assert len(lid.chunks("\n".join([EN] * 100))) == 4


def test_langid_pickles_and_reports_a_broken_fasttext(monkeypatch, lid):
    clone = pickle.loads(pickle.dumps(lid))
    assert clone.identify(EN).lang == "en"
    fake = types.ModuleType("fasttext")
    fake.load_model = lambda path: None  # fasttext-predict: no train_supervised
    monkeypatch.setitem(sys.modules, "fasttext", fake)
    with pytest.raises(ConfigError, match="force-reinstall --no-deps fasttext-numpy2"):
        LanguageIdentifier()


@needs_data
def test_real_documents_languages(lid, real_docs):
    results = lid.identify_many([t for _, t in real_docs])
    by_source: dict[str, list[str]] = {}
    for (source, _), r in zip(real_docs, results):
        by_source.setdefault(source, []).append(r.lang)
        assert 0.0 <= r.score <= 1.0
        assert not r.shares or abs(sum(r.shares.values()) - 1) < 1e-6
    assert set(by_source["news"]) == {"zh"}
    assert set(by_source["books_zh"]) == {"zh"}
    assert set(by_source["books_en"]) == {"en"}
    assert set(by_source["forums"]) == {"zh"}  # short, unspaced dialogue lines
    web = by_source["web"]
    assert web.count("en") > 30 and web.count("zh") >= 5 and "ru" in web


@needs_data
def test_real_chinese_without_the_script_rule(real_docs):
    """fastText alone (Han characters spaced apart) agrees on real Chinese documents."""
    lid = LanguageIdentifier({"script_cjk": False})
    texts = [t for source, t in real_docs if source in ("news", "forums", "books_zh")]
    langs = [r.lang for r in lid.identify_many(texts)]
    assert langs.count("zh") >= 0.99 * len(langs)


@needs_data
def test_traditional_poetry_to_simplified_then_chinese(lid):
    import json

    poems = json.loads((DATA / "books" / "zh_chinese_poetry" / "tangshi_sanbaishou.json")
                       .read_text(encoding="utf-8"))
    text = "\n".join(poems[0]["paragraphs"])
    assert "蟬" in text
    out, counts = Normalizer({"t2s": True})(text)
    assert "蝉" in out and "蟬" not in out and counts["t2s_chars"] > 0
    assert lid.identify(text).lang == lid.identify(out).lang == "zh"
