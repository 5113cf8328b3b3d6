#!/usr/bin/env python3
"""Build the training data of the bootstrap quality model (models/quality) in sample/quality/.

    python scripts/make_quality_negatives.py                # sample/quality/negatives.jsonl.gz
    python scripts/make_quality_negatives.py --extraction ../shared/data/extraction
                                          # ... plus articles.jsonl.gz and page_chrome.jsonl.gz

Same seed, same bytes (gzip with a fixed header). Each line is {"id", "kind", "text"}.

negatives.jsonl.gz: synthetic junk. The repository holds almost no real junk pages (the 14 Common
Crawl excerpt pages are kept for evaluation, see bench/quality_eval.py), so the negatives are
made from redistributable data in sample/ plus word lists written for this script. The kinds
imitate what junk looks like once a page's text has been extracted:

  nav_en      link/menu text of the sample wget crawls' pages (dolma_wget_sample-*.warc.gz,
              Apache-2.0): every <a> text of a page, whole or a run of it
  nav_zh      Chinese menus, breadcrumbs, pagination and "more >>" link lists (word lists below)
  seo_zh      keyword-stuffed pages: gambling/lottery, adult, quack medicine, loans, B2B
              products, software downloads; titles joined by "_", contact numbers, disclaimers
  seo_en      the English counterpart (casino, pills, loans, downloads)
  listing_zh  price lists, product catalogues and company contact blocks
  footer_zh   copyright/ICP/address/phone footers, alone or stacked
  error       error and placeholder pages (404, database errors, "no content yet")
  inject_zh   sentences of a public-domain novel (sample/books/xiyouji.txt) in shuffled order
              with spam keywords injected between them (hacked/parasite pages)
  salad_zh    jieba words of a passage of xiyouji.txt (or of LCCC dialogues) shuffled
  salad_en    words of a passage of sample/books/pg84.txt shuffled
  mojibake    UTF-8 Chinese text of the sample books decoded with the wrong codec (GBK, cp1252,
              latin-1)

articles.jsonl.gz / page_chrome.jsonl.gz (only with --extraction DIR, the labelled extraction
pages of ../shared/data/extraction, both sets MIT-licensed; see sample/PROVENANCE.md): for each
of the 131 pages (39 Chinese, 92 mostly English news/blog pages), the ground-truth article text
(a positive: edited modern prose) and the rest of the page's visible text, i.e. each line of the
whole-page text that is not part of the article (a negative: menus, link lists, related
headlines, share buttons, footers of real pages).

All of this is a stand-in for real labelled junk: it teaches the model the vocabulary and the
shape of spam, menus and boilerplate, not subtle quality. Train a real model with
`corpus train-quality` on your own crawl (e.g. `--negative dropped:RUN_DIR#reason,...`).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import random
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample"
DEFAULT_OUTPUT = SAMPLE / "quality" / "negatives.jsonl.gz"

# How many documents of each kind (about 2,600 in all).
COUNTS = {
    "nav_en": 150, "nav_zh": 300, "seo_zh": 500, "seo_en": 120, "listing_zh": 250,
    "footer_zh": 150, "error": 100, "inject_zh": 300, "salad_zh": 250, "salad_en": 100,
    "mojibake": 150,
}

# --- word lists (written for this script) ------------------------------------------------

NAV_ZH = """首页 网站首页 关于我们 公司简介 企业文化 发展历程 组织架构 荣誉资质 新闻中心 公司新闻 行业动态
行业资讯 媒体报道 产品中心 产品展示 产品分类 解决方案 成功案例 客户案例 工程案例 服务支持 售后服务 技术支持
常见问题 下载中心 资料下载 人才招聘 招贤纳士 联系我们 联系方式 在线留言 网站地图 会员中心 登录 注册 免费注册
找回密码 退出 设为首页 加入收藏 返回顶部 更多>> 更多 查看详情 点击进入 进入 帮助中心 意见反馈 投诉建议 隐私政策
免责声明 广告服务 广告合作 友情链接 合作伙伴 版权声明 热门标签 热门推荐 最新文章 相关文章 推荐阅读 排行榜 专题
视频 图片 论坛 博客 社区 商城 购物车 我的订单 客服中心 手机版 APP下载 微信公众号 扫一扫 分享到 收藏 打印
关闭窗口 站内搜索 搜索 高级搜索 热门搜索 全部分类 本周热门 本月热门 最新更新 最近更新 随机推荐 今日推荐""".split()
NAV_SECTIONS = """新闻 国内 国际 社会 体育 娱乐 财经 股票 基金 科技 数码 手机 汽车 房产 家居 教育 考试 旅游 健康
时尚 女性 母婴 美食 游戏 动漫 军事 历史 文化 读书 彩票 星座 招聘 二手车 租房 小说 电影 电视剧 综艺 音乐 下载
软件 资讯 专题 图库 问答 百科 知识 生活 本地 天气 地图""".split()
PAGE_WORDS = ["上一页", "下一页", "首页", "尾页", "末页", "跳转", "共{n}页", "第{n}页", "共{n}条", "当前第{n}页"]
GAMBLING = """六合彩 香港六合彩 澳门六合彩 时时彩 重庆时时彩 北京赛车 PK10 幸运飞艇 快三 分分彩 百家乐 真人百家乐
老虎机 电子游艺 棋牌 捕鱼 体育投注 足球投注 彩票平台 网上赌场 娱乐城 娱乐平台 开户 注册 首存 彩金 注册送彩金
返水 信誉平台 正规平台 下注 投注 赔率 精准计划 开奖结果 开奖记录 开奖直播 走势图 特码 平码 一肖中特 三肖六码
资料大全 心水论坛 内幕消息 稳赚不赔 倍投 必中 大小单双 龙虎 庄闲 彩民 中奖 派彩""".split()
ADULT = """成人 色情 黄色网站 激情 性感美女 AV 无码 高清 在线观看 免费观看 成人视频 影院 午夜福利 福利视频 自拍
偷拍 国产 日韩 欧美 亚洲 色图 成人小说 精品 一区 二区 番号 直播 美女主播 约炮 交友 少妇 人妻 制服 丝袜""".split()
QUACK = """减肥 瘦身 壮阳 丰胸 增高 祛斑 根治 祖传秘方 特效药 包治 偏方 无效退款 专家 医院 男科 妇科 不孕不育
治疗 哪家好 多少钱 费用 排名 权威 专科 牛皮癣 白癜风 痔疮 前列腺 早泄 阳痿 脱发 植发""".split()
LOANS = """贷款 无抵押贷款 信用卡 套现 代办 秒批 网贷 借款 额度 下款 口子 黑户 利息 理财 炒股 配资 外汇 期货
比特币 虚拟币 挖矿 收益 高回报 日赚 兼职 刷单 返利 零风险 躺赚""".split()
B2B = """厂家 直销 批发 供应 价格 报价 多少钱 现货 规格 型号 定制 加工 生产 销售 优惠 包邮 热销 品质保证 售后无忧
联系电话 全国发货 一件代发 量大从优 欢迎来电 欢迎选购 厂家直供""".split()
PRODUCTS = """耐磨板 钢板 不锈钢管 螺丝 阀门 水泵 电缆 涂料 轴承 模具 包装机 空压机 叉车 发电机 净水器 空调 地板
瓷砖 门窗 家具 茶叶 红酒 化妆品 面膜 手机壳 女装 男鞋 箱包 铝型材 钢丝绳 防水材料 保温材料 玻璃钢 彩钢板
镀锌管 方管 角钢 槽钢 工字钢 无缝管 焊管 法兰 弯头 三通 塑料袋 纸箱 标签 LED灯 广告牌 监控摄像头""".split()
SOFTWARE = """下载 免费下载 破解版 绿色版 安卓版 最新版 官方版 激活码 注册码 序列号 安装包 电脑版 手机版 无毒
高速下载 迅雷下载 百度网盘 资源 合集 种子 磁力链接 汉化版 中文版 免安装 吾爱破解 外挂 辅助 游戏""".split()
MODIFIERS = """最新 2019年 2020年 2021年 免费 官方 正版 最全 最好 十大 排名 推荐 哪个好 怎么样 是什么 多少钱 价格表
大全 图片 视频 教程 攻略 排行榜 入口 网址 地址 登录入口 手机版 官网 在线 正规 靠谱""".split()
CITIES = """北京 上海 广州 深圳 杭州 南京 成都 重庆 武汉 西安 天津 苏州 郑州 长沙 青岛 沈阳 东莞 佛山 宁波 无锡
合肥 昆明 大连 厦门 福州 济南 哈尔滨 长春 石家庄 南宁 贵阳 南昌 太原 温州 泉州 中山 珠海 惠州 嘉兴 金华""".split()
SITE_SUFFIX = "网 官网 门户 之家 在线 导航 大全 平台 论坛 社区 中心 资讯网 信息网 商城".split()
SURNAMES = "王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 林 罗 郑 梁 谢 宋 唐 许 韩 冯 邓 曹".split()
GIVEN = "伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀 霞 平 刚 桂 英 华 玲 斌 鹏 辉 宇 浩".split()
INDUSTRY = """科技 贸易 实业 机械 电子 建材 化工 环保 物流 网络 文化传媒 信息技术 钢铁 五金 包装 服饰 食品
医疗器械 装饰工程 广告 教育咨询 投资管理 房地产开发""".split()
STREETS = """人民路 解放路 中山路 建设路 和平路 胜利路 新华路 文化路 工业路 科技园路 滨江大道 世纪大道
长江路 黄河路""".split()
PROVINCE_SHORT = "京 沪 粤 浙 苏 川 渝 鄂 陕 津 豫 湘 鲁 辽 闽 皖 赣 桂 黔 滇 冀 晋 吉 黑".split()
ERRORS = [
    "404 Not Found\nThe requested URL was not found on this server.",
    "404 页面不存在\n很抱歉，您访问的页面不存在或已被删除！\n返回首页",
    "很抱歉~ 当您看到这个页面的时候，说明您访问的地址有错误或者页面已经不存在了~\n{sec}\n返回首页",
    "403 Forbidden\nnginx",
    "502 Bad Gateway\nnginx/1.{n}.{n}",
    "500 Internal Server Error",
    "Service Unavailable",
    "Warning: mysql_connect(): Access denied for user 'root'@'localhost' (using password: YES) in "
    "/www/web/{w}/public_html/include/db.php on line {n}",
    "Fatal error: Call to undefined function {w}() in /home/{w}/index.php on line {n}",
    "Table '{w}_{n}.{w}_{w}' doesn't exist",
    "数据库连接错误\n请检查数据库配置文件",
    "暂无内容",
    "该栏目暂无内容！",
    "发布时间 发布者 点击 标题",
    "您的位置：首页 » {sec} » 共有{n}条信息",
    "当前位置：主页 > {sec} >",
    "{city}{sec}热线：400{n}{n}",
    "Index of /\nParent Directory\n{w}/\n{w}.html\n{w}.zip",
    "This domain is for sale!\nContact us to buy this domain: {w}.com",
    "该网站暂时无法访问\n可能原因：网站未备案或已过期",
    "Loading...\n请稍候",
    "JavaScript is disabled in your browser. Please enable JavaScript to continue.",
    "Please enable cookies.\nChecking your browser before accessing {w}.com",
    "Copyright © {y} All Rights Reserved",
]
SEO_EN = """casino online-casino slots free-spins bonus no-deposit-bonus jackpot poker blackjack roulette
betting sportsbook odds payday-loans cheap-loans bad-credit instant-approval cash-advance buy-cheap
discount replica-watches designer-bags viagra cialis pills pharmacy no-prescription weight-loss
diet-pills keto crypto bitcoin forex trading-signals make-money work-from-home seo-services
backlinks escort dating hot-singles free-movies watch-online hd-streaming torrent crack keygen
serial-key full-version download free-download apk mod unlimited coupon promo-code best cheapest
top-10 review 2020 official near-me""".split()
EN_TEMPLATES = [
    "Best {k} {k2} {y} - {k3} | {site}",
    "Looking for {k}? We offer the best {k2} and {k3} at the lowest price.",
    "{k} {k2} {k3} {k} {k2}",
    "Click here to get {k} now! Limited offer, {k2} and {k3} guaranteed.",
    "Top {n} {k} sites for {k2}. {k3} reviews, {k} bonus codes, {k2} tips.",
    "Tags: {k}, {k2}, {k3}, {k4}, {k5}",
    "{k} | {k2} | {k3} | {k4}",
    "Contact us: support@{site} | Call now {phone}",
    "Related searches: {k} {k2}, {k3} {k4}, {k5} {k}",
    "Disclaimer: all trademarks belong to their respective owners.",
]


# --- helpers ------------------------------------------------------------------------------

def phone(r: random.Random) -> str:
    return r.choice([
        lambda: f"1{r.choice('3578')}{r.randrange(10**8, 10**9)}",
        lambda: f"0{r.randrange(10, 999)}-{r.randrange(10**7, 10**8)}",
        lambda: f"400-{r.randrange(100, 999)}-{r.randrange(1000, 9999)}",
    ])()


def qq(r: random.Random) -> str:
    return str(r.randrange(10**7, 10**10))


def person(r: random.Random) -> str:
    return r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(r.randint(1, 2)))


def company(r: random.Random) -> str:
    word = "".join(r.choice("鑫 华 盛 泰 恒 达 宏 源 聚 凯 博 瑞 丰 永 嘉 信 诚 汇 金 天".split()) for _ in range(2))
    return f"{r.choice(CITIES)}{word}{r.choice(INDUSTRY)}有限公司"


def site_name(r: random.Random, words: list[str]) -> str:
    return r.choice(words) + r.choice(SITE_SUFFIX)


def date(r: random.Random) -> str:
    return f"{r.randint(2008, 2021)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"


def keyword(r: random.Random, lex: list[str]) -> str:
    w = r.choice(lex)
    form = r.randrange(6)
    if form == 0:
        return r.choice(MODIFIERS) + w
    if form == 1:
        return w + r.choice(MODIFIERS)
    if form == 2:
        return r.choice(CITIES) + w
    if form == 3:
        return w + r.choice(lex)
    return w


def sep(r: random.Random) -> str:
    return r.choice([" | ", "\n", " ", "  ", " · ", "｜", " / "])


# --- sources from sample/ ------------------------------------------------------------------

def load_sources() -> dict:
    from corpus.config import load_config
    from corpus.ingest import read_input

    ingest = load_config()["ingest"]

    def docs(kind: str, path: Path) -> list[str]:
        return [row["text"] for row in read_input(kind, str(path), ingest) if row["reason"] is None]

    xiyouji = docs("books", SAMPLE / "books" / "xiyouji.txt")
    sentences = [s.strip() for d in xiyouji for s in re.split(r"(?<=[。！？])", d.replace("\n", ""))
                 if 8 <= len(s.strip()) <= 80]
    return {
        "zh_sentences": sentences,
        "zh_docs": xiyouji,
        "en_docs": docs("books", SAMPLE / "books" / "pg84.txt"),
        "dialogues": docs("forums", SAMPLE / "forums" / "lccc_toy_valid.txt"),
        "poems": docs("books", SAMPLE / "books" / "chinese_poetry" / "tangshi_sanbaishou.json"),
        "anchors": wget_anchor_lists(),
    }


def wget_anchor_lists() -> list[list[str]]:
    """The <a> texts of each HTML page in the sample wget crawls (academic home pages)."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.parse.html import HTMLTree

    from corpus.ingest import charset, http
    from corpus.ingest.warc import parse_http_response

    out = []
    for path in sorted((SAMPLE / "warc").glob("dolma_wget_sample-*.warc.gz")):
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f, record_types=WarcRecordType.response, parse_http=False):
                status, headers, body = parse_http_response(rec.reader.read())
                if status != 200:
                    continue
                payload, _ = http.decode_body(body, headers, 20_000_000)
                html, _ = charset.decode(payload, None, html=True)
                tree = HTMLTree.parse(html)
                if tree.body is None:
                    continue
                anchors = [" ".join(a.text.split()) for a in tree.body.get_elements_by_tag_name("a")]
                anchors = [a for a in anchors if a]
                if len(anchors) >= 5:
                    out.append(anchors)
    return out


# --- generators -------------------------------------------------------------------------

def gen_nav_en(r: random.Random, src: dict) -> str:
    anchors = r.choice(src["anchors"])
    if r.random() < 0.3:
        run = anchors
    else:
        n = r.randint(5, min(60, len(anchors)))
        start = r.randrange(0, len(anchors) - n + 1)
        run = anchors[start:start + n]
    return sep(r).join(run)


def gen_nav_zh(r: random.Random, src: dict) -> str:
    parts = []
    for _ in range(r.randint(1, 4)):
        kind = r.randrange(5)
        if kind == 0:
            parts.append(sep(r).join(r.sample(NAV_ZH, r.randint(5, 20))))
        elif kind == 1:
            parts.append(sep(r).join(r.sample(NAV_SECTIONS, r.randint(6, 25))))
        elif kind == 2:
            parts.append(f"{r.choice(['当前位置', '您的位置', '位置'])}：首页 > {r.choice(NAV_SECTIONS)} > "
                         f"{r.choice(NAV_SECTIONS)} > {r.choice(['正文', '列表', '详情'])}")
        elif kind == 3:
            pages = " ".join(str(i) for i in range(1, r.randint(3, 12)))
            w = [p.format(n=r.randint(2, 500)) for p in r.sample(PAGE_WORDS, 4)]
            parts.append(f"{w[0]} {w[1]} {pages} {w[2]} {w[3]}")
        else:
            lex = r.choice([NAV_SECTIONS, PRODUCTS, GAMBLING, SOFTWARE])
            lines = [f"{r.choice(['·', '', '>', '[' + r.choice(NAV_SECTIONS) + ']'])}"
                     f"{keyword(r, lex)}{r.choice(['', keyword(r, lex)])} {date(r) if r.random() < 0.6 else ''}".strip()
                     for _ in range(r.randint(4, 15))]
            parts.append("\n".join(lines) + "\n" + r.choice(["更多>>", "更多", "查看更多", ""]))
    return "\n".join(p for p in parts if p)


def gen_seo_zh(r: random.Random, src: dict) -> str:
    lex = r.choice([GAMBLING, GAMBLING, ADULT, QUACK, LOANS, B2B + PRODUCTS, SOFTWARE])
    if r.random() < 0.3:
        lex = lex + r.choice([GAMBLING, ADULT, LOANS, SOFTWARE])
    kws = [keyword(r, lex) for _ in range(r.randint(4, 10))]
    site = site_name(r, lex)
    k = lambda: r.choice(kws)  # noqa: E731
    templates = [
        lambda: f"{k()}，{k()}，{k()}。",
        lambda: f"本站提供{k()}、{k()}等服务，欢迎{r.choice(['咨询', '来电', '访问', '注册', '体验'])}。",
        lambda: (f"{k()}哪家好？{k()}{r.choice(['多少钱', '怎么样', '靠谱吗', '在哪里'])}？"
                 f"{site}为您提供{k()}最新信息。"),
        lambda: "热门搜索：" + " ".join(k() for _ in range(r.randint(3, 8))),
        lambda: "相关推荐：" + sep(r).join(f"{k()}{r.choice(MODIFIERS)}" for _ in range(r.randint(3, 8))),
        lambda: f"客服QQ：{qq(r)} 微信：{r.choice(['wx', 'vip', 'kf', ''])}{qq(r)} 热线：{phone(r)}",
        lambda: f"{k()}_{k()}_{k()}-{site}",
        lambda: f"{k()}{k()}{k()}{k()}",
        lambda: f"【{k()}】{k()}{r.choice(MODIFIERS)}，{k()}{r.choice(MODIFIERS)}！{k()}",
        lambda: f"{date(r)} {k()} {r.choice(['阅读', '浏览', '点击'])}：{r.randint(10, 99999)}",
        lambda: "声明：本站部分内容来源于网络，如有侵权请联系删除。",
        lambda: f"第{r.randint(1, 150):03d}期：{k()}{r.choice(['', '，送：' + k()])}",
        lambda: f"{k()}{r.choice(['稳赚', '必中', '免费领取', '立即注册', '点击进入', '马上下载'])}！",
    ]
    lines = [f"{k()}_{k()}_{k()}-{site}"]
    lines += [r.choice(templates)() for _ in range(r.randint(3, 25))]
    return "\n".join(lines)


def gen_seo_en(r: random.Random, src: dict) -> str:
    words = [w.replace("-", " ") for w in SEO_EN]
    site = r.choice(words).replace(" ", "") + r.choice([".com", ".net", ".info", ".xyz", "online.com"])
    lines = []
    for _ in range(r.randint(3, 15)):
        ks = r.sample(words, 5)
        lines.append(r.choice(EN_TEMPLATES).format(
            k=ks[0], k2=ks[1], k3=ks[2], k4=ks[3], k5=ks[4], y=r.randint(2015, 2024), n=r.randint(5, 50),
            site=site, phone=f"+1-{r.randint(200, 999)}-{r.randint(200, 999)}-{r.randint(1000, 9999)}"))
    return "\n".join(lines)


def gen_listing_zh(r: random.Random, src: dict) -> str:
    lines = []
    co = company(r)
    for _ in range(r.randint(2, 20)):
        p = r.choice(PRODUCTS)
        form = r.randrange(4)
        if form == 0:
            lines.append(f"{p}{r.choice(['', 'NM', 'Q', 'SUS'])}{r.randint(100, 600)} "
                         f"{r.randint(2, 50)}*{r.randint(100, 2500)}*{r.randint(1000, 12000)} {r.randint(500, 9900)}")
        elif form == 1:
            lines.append(f"{p} 型号：{r.choice('ABCDKMXZ')}{r.randint(10, 9999)} 价格：{r.randint(1, 9999)}元/"
                         f"{r.choice(['吨', '件', '台', '米', '个', '箱'])} {r.choice(B2B)}")
        elif form == 2:
            lines.append(f"{r.choice(CITIES)}{p}{r.choice(B2B)} {r.choice(B2B)} {co}")
        else:
            lines.append(f"联系人：{person(r)} 电话：{phone(r)} {phone(r)}")
    if r.random() < 0.7:
        lines += ["公司相册 更多", "企业名片", co]
    return "\n".join(lines)


def gen_footer_zh(r: random.Random, src: dict) -> str:
    lines = []
    for _ in range(r.randint(1, 3)):
        co = company(r)
        y = r.randint(2000, 2015)
        opts = [
            f"版权所有 © {y}-{y + r.randint(1, 8)} {co} All Rights Reserved",
            f"Copyright © {y} {co} 版权所有",
            f"地址：{r.choice(CITIES)}市{r.choice(STREETS)}{r.randint(1, 999)}号"
            f"{r.choice(['', str(r.randint(1, 30)) + '楼'])}",
            f"电话：{phone(r)} 传真：{phone(r)} 邮编：{r.randint(100000, 850000)}",
            f"{r.choice(PROVINCE_SHORT)}ICP备{r.randint(10**7, 10**8)}号-{r.randint(1, 9)}",
            f"{r.choice(PROVINCE_SHORT)}公网安备 {r.randint(10**13, 10**14)}号",
            f"技术支持：{company(r)}",
            f"监督电话：{phone(r)}",
            f"{r.choice(['总部', '香港办事处', '工厂地址', '分公司'])}："
            f"{r.choice(CITIES)}{r.choice(STREETS)}{r.randint(1, 999)}号",
            "网站地图 | 联系我们 | 法律声明 | 隐私保护",
            f"E-mail：{r.choice(['info', 'sales', 'admin', 'service'])}@{r.choice(['163.com', 'qq.com', 'sina.com'])}",
        ]
        lines += r.sample(opts, r.randint(2, len(opts)))
    return "\n".join(lines)


def gen_error(r: random.Random, src: dict) -> str:
    w = lambda: "".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(3, 8)))  # noqa: E731
    pages = r.sample(ERRORS, r.randint(1, 2))
    return "\n".join(p.format(n=r.randint(1, 999), w=w(), sec=r.choice(NAV_SECTIONS), city=r.choice(CITIES),
                              y=r.randint(2005, 2022)) for p in pages)


def gen_inject_zh(r: random.Random, src: dict) -> str:
    lex = r.choice([GAMBLING, ADULT, LOANS, SOFTWARE, QUACK])
    spam = [keyword(r, lex) for _ in range(r.randint(1, 4))]
    sents = r.sample(src["zh_sentences"], r.randint(3, 25))
    out = []
    for s in sents:
        out.append(s)
        if r.random() < 0.6:
            out.append(r.choice(spam))
    if r.random() < 0.5:
        out.insert(0, f"{r.choice(spam)}_{r.choice(spam)}-{site_name(r, lex)}\n")
    return "".join(out)


def jieba_words(text: str) -> list[str]:
    import jieba

    jieba.setLogLevel(60)
    return jieba.lcut(text, HMM=False)


def gen_salad_zh(r: random.Random, src: dict) -> str:
    if r.random() < 0.25:
        text = "".join(r.sample(src["dialogues"], 30))
    else:
        d = r.choice(src["zh_docs"])
        start = r.randrange(0, max(1, len(d) - 1500))
        text = d[start:start + r.randint(100, 1500)]
    words = [w for w in jieba_words(text) if w.strip()]
    r.shuffle(words)
    return "".join(words)


def gen_salad_en(r: random.Random, src: dict) -> str:
    d = r.choice(src["en_docs"])
    words = d.split()
    start = r.randrange(0, max(1, len(words) - 400))
    chunk = words[start:start + r.randint(30, 400)]
    r.shuffle(chunk)
    return " ".join(chunk)


def gen_mojibake(r: random.Random, src: dict) -> str:
    d = r.choice(src[r.choice(["zh_docs", "zh_docs", "poems"])])
    start = r.randrange(0, max(1, len(d) - 600))
    text = d[start:start + r.randint(60, 600)]
    garbled = text.encode("utf-8").decode(r.choice(["gbk", "gbk", "cp1252", "latin-1"]), errors="replace")
    return "".join(ch for ch in garbled if ch == "\n" or ch.isprintable())


GENERATORS = {
    "nav_en": gen_nav_en, "nav_zh": gen_nav_zh, "seo_zh": gen_seo_zh, "seo_en": gen_seo_en,
    "listing_zh": gen_listing_zh, "footer_zh": gen_footer_zh, "error": gen_error,
    "inject_zh": gen_inject_zh, "salad_zh": gen_salad_zh, "salad_en": gen_salad_en,
    "mojibake": gen_mojibake,
}


def extraction_pages(data: Path) -> tuple[list[dict], list[dict]]:
    """(articles, page chrome) of the labelled extraction pages under `data` (MIT-licensed sets,
    see sample/PROVENANCE.md): an article is a page's ground-truth main text; its chrome is the
    rest of the page's visible text, line by line (menus, link lists, related headlines,
    footers), i.e. each line of the whole-page text that is not part of the article."""
    sys.path.insert(0, str(REPO))  # bench/ is a package at the repository root
    from bench.extraction import load_en, load_zh  # the loaders of the extraction benchmark
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    def collapse(text: str) -> str:
        return " ".join(text.split())

    articles, chrome = [], []
    for lang, pages in (("zh", load_zh(data)), ("en", load_en(data))):
        for key, html, truth in pages:
            body = "\n".join(ln for ln in map(collapse, truth.splitlines()) if ln)
            flat = collapse(truth)
            full = extract_plain_text(HTMLTree.parse(html), main_content=False, preserve_formatting=True,
                                      list_bullets=False, alt_texts=False)
            rest = [ln for ln in map(collapse, full.splitlines()) if ln and ln not in flat]
            if body:
                articles.append({"id": f"article-{lang}-{key[:16]}", "kind": f"article_{lang}", "text": body})
            if rest:
                chrome.append({"id": f"chrome-{lang}-{key[:16]}", "kind": f"chrome_{lang}",
                               "text": "\n".join(rest)})
    return articles, chrome


def generate(seed: int = 1) -> list[dict]:
    src = load_sources()
    out = []
    for kind, count in COUNTS.items():
        r = random.Random(f"{seed}:{kind}")
        for i in range(count):
            text = GENERATORS[kind](r, src).strip()
            if text:
                out.append({"id": f"{kind}-{i:04d}", "kind": kind, "text": text})
    return out


def write(rows: list[dict], path: Path) -> str:
    """Write JSONL (gzip with a fixed header when the name ends in .gz); returns its sha256."""
    data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    if path.suffix == ".gz":
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
            gz.write(data)
        data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", "-o", type=Path, default=DEFAULT_OUTPUT)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--extraction", type=Path, metavar="DIR",
                    help="also write articles.jsonl.gz and page_chrome.jsonl.gz beside --output "
                         "from the labelled extraction pages in DIR (../shared/data/extraction)")
    args = ap.parse_args(argv)
    if args.extraction:
        articles, chrome = extraction_pages(args.extraction)
        for name, rows in (("articles.jsonl.gz", articles), ("page_chrome.jsonl.gz", chrome)):
            path = args.output.parent / name
            digest = write(rows, path)
            print(json.dumps({"output": str(path), "docs": len(rows),
                              "chars": sum(len(x["text"]) for x in rows), "sha256": digest}))
    rows = generate(args.seed)
    digest = write(rows, args.output)
    kinds: dict[str, int] = {}
    for row in rows:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    print(json.dumps({"output": str(args.output), "docs": len(rows), "kinds": kinds,
                      "chars": sum(len(x["text"]) for x in rows), "sha256": digest}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
