"""Platform rules: where a known publishing platform keeps its article, and what to drop.

``find_rule(tree, url) -> Rule | None``. A rule is detected from the page's own markup
(generator tags, CDN hosts, class names), so custom domains are recognized too; the URL
host is only a shortcut. Each rule names the container of the article text, the chrome
to prune inside it, and the markers of a paywall. Tests: tests/test_extraction_rules.py,
on saved pages in tests/pages/extraction/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from lxml.etree import XPath
from lxml.html import HtmlElement

from storage.ids import host_of


def _has_class(name: str) -> str:
    """XPath predicate: the element's class attribute contains the token ``name``."""
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


@dataclass(frozen=True)
class Rule:
    """How to read one platform's article pages."""

    name: str
    page_type: str
    """Our page type for articles of this platform (blog, paper, reference, forum)."""
    detect: Callable[[HtmlElement, str, PageFacts], bool]
    content: tuple[str, ...] = ()
    """XPaths of the article container, tried in order; the first unique match wins."""
    prune: tuple[str, ...] = ()
    """XPaths of chrome to remove before extraction (share bars, sign-up forms, ...)."""
    paywall: tuple[str, ...] = ()
    """XPaths whose presence means the text is cut by a paywall."""
    site_name: str | None = None
    title: str | None = None
    """XPath of the headline as the platform renders it, if it has a stable one."""
    markup_type_wins: bool = False
    """Whether a page type stated in the markup (JSON-LD) beats ``page_type``: WordPress
    runs news sites too, while Substack marks every post a NewsArticle."""
    compiled: dict[str, list[XPath]] = field(default_factory=dict, compare=False, repr=False)

    def xpaths(self, kind: str) -> list[XPath]:
        """The compiled XPaths of ``kind`` (content, prune or paywall), compiled once."""
        if kind not in self.compiled:
            self.compiled[kind] = [XPath(x) for x in getattr(self, kind)]
        return self.compiled[kind]


@dataclass(frozen=True)
class PageFacts:
    """What the detectors read from the head, gathered in one pass over its tags."""

    generator: str
    """The ``<meta name="generator">`` contents, lowercased."""
    links: str
    """The ``href`` of every ``<link>``."""
    scripts: str
    """The ``src`` of every ``<script>``."""
    metas: frozenset[tuple[str, str]]
    """(name or property, content) of every ``<meta>``."""

    @classmethod
    def of(cls, tree: HtmlElement) -> PageFacts:
        generator, links, scripts, metas = [], [], [], set()
        for element in tree.iter("meta", "link", "script"):
            if element.tag == "meta":
                key = element.get("name") or element.get("property") or ""
                content = element.get("content") or ""
                metas.add((key, content))
                if key == "generator":
                    generator.append(content)
            elif element.tag == "link":
                links.append(element.get("href") or "")
            else:
                scripts.append(element.get("src") or "")
        return cls(
            " ".join(generator).lower(), " ".join(links), " ".join(scripts), frozenset(metas)
        )

    def has_meta(self, key: str, content: str | None = None) -> bool:
        return any(k == key and content in (None, c) for k, c in self.metas)


_SUBSTACK_POST = XPath(f"//div[{_has_class('available-content')} or {_has_class('body')}][1]")
_FORUM_POST = XPath("//div[contains(@class, 'PostsPage-postContent')][1]")
_ARXIV_ABSTRACT = XPath("//blockquote[contains(@class, 'abstract')][1]")
_MEDIAWIKI_TEXT = XPath("//div[@id='mw-content-text'][1]")


def _detect_substack(tree: HtmlElement, url: str, page: PageFacts) -> bool:
    # custom domains keep Substack's CDN and its post markup
    return host_of(url).endswith(".substack.com") or (
        ("substackcdn.com" in page.links or "substackcdn.com" in page.scripts)
        and bool(_SUBSTACK_POST(tree))
    )


def _detect_medium(tree: HtmlElement, url: str, page: PageFacts) -> bool:
    return (
        host_of(url) == "medium.com"
        or host_of(url).endswith(".medium.com")
        or page.has_meta("al:android:app_name", "Medium")
        or "cdn-client.medium.com" in page.scripts
    )


def _detect_wordpress(tree: HtmlElement, url: str, page: PageFacts) -> bool:
    return (
        page.generator.startswith("wordpress")
        or "/wp-content/" in page.links
        or "/wp-content/" in page.scripts
        or "/wp-includes/" in page.scripts
    )


def _detect_ghost(tree: HtmlElement, url: str, page: PageFacts) -> bool:
    return page.generator.startswith("ghost")


_FORUM_HOSTS = ("lesswrong.com", "alignmentforum.org", "forum.effectivealtruism.org")


def _detect_forummagnum(tree: HtmlElement, url: str, page: PageFacts) -> bool:
    host = host_of(url)
    return any(host == h or host.endswith("." + h) for h in _FORUM_HOSTS) or bool(
        _FORUM_POST(tree)  # the container
    )


def _detect_arxiv(tree: HtmlElement, url: str, page: PageFacts) -> bool:
    return bool(re.search(r"(^|\.)arxiv\.org$", host_of(url)) and "/abs/" in url) or (
        page.has_meta("citation_arxiv_id") and bool(_ARXIV_ABSTRACT(tree))
    )


def _detect_mediawiki(tree: HtmlElement, url: str, page: PageFacts) -> bool:
    wiki = host_of(url).endswith(".wikipedia.org") or page.generator.startswith("mediawiki")
    return wiki and bool(_MEDIAWIKI_TEXT(tree))


RULES: tuple[Rule, ...] = (
    # Substack: https://substack.com (post pages: div.available-content > div.body.markup;
    # paid posts end in div.paywall / data-testid="paywall").
    Rule(
        name="substack",
        page_type="blog",
        title=f"//h1[{_has_class('post-title')}]",
        detect=_detect_substack,
        content=(
            f"//div[{_has_class('available-content')}]//div[{_has_class('body')}]",
            f"//div[{_has_class('available-content')}]",
            f"//div[{_has_class('body')} and {_has_class('markup')}]",
        ),
        prune=(
            f"//div[{_has_class('subscription-widget-wrap')} or {_has_class('subscription-widget')}"
            f" or {_has_class('subscribe-widget')} or {_has_class('captioned-button-wrap')}"
            f" or {_has_class('button-wrapper')} or {_has_class('post-ufi')}"
            f" or {_has_class('share-dialog')} or {_has_class('image-link-expand')}]",
            "//p[@class='button-wrapper']",
        ),
        paywall=(
            f"//div[{_has_class('paywall')} or {_has_class('paywall-content')}]",
            "//*[@data-testid='paywall']",
        ),
    ),
    # Medium: generated class names; the stable hooks are <article> and data-testid.
    Rule(
        name="medium",
        page_type="blog",
        title="//h1[@data-testid='storyTitle']",
        detect=_detect_medium,
        content=("//article//section", "//article"),
        prune=(
            "//*[@data-testid='storyTitle' or @data-testid='authorPhoto'"
            " or @data-testid='authorName' or @data-testid='storyReadTime'"
            " or @data-testid='storyPublishDate' or @data-testid='headerClapButton'"
            " or @data-testid='headerBookmarkButton' or @data-testid='audioPlayButton'"
            " or @data-testid='headerSocialShareButton' or @data-testid='publicationName']",
            "//div[contains(@class, 'pw-multi-vote')]",
            "//*[@aria-label='responses']",
        ),
        paywall=(
            "//*[contains(text(), 'The author made this story available to Medium members only')]",
            "//*[contains(text(), 'Read the full story with a free account')]",
        ),
        site_name="Medium",
    ),
    # WordPress themes follow the theme handbook: article.post > div.entry-content;
    # Jetpack and common plugins add share, like and related-posts blocks.
    Rule(
        name="wordpress",
        page_type="blog",
        markup_type_wins=True,
        detect=_detect_wordpress,
        content=(
            f"//article//div[{_has_class('entry-content')}]",
            f"//div[{_has_class('entry-content')}]",
            f"//div[{_has_class('post-content')}]",
        ),
        prune=(
            f"//div[{_has_class('sharedaddy')} or {_has_class('jp-relatedposts')}"
            f" or {_has_class('sd-sharing-enabled')} or {_has_class('wpcnt')}"
            f" or {_has_class('yarpp-related')} or {_has_class('addtoany_share_save_container')}"
            f" or {_has_class('saboxplugin-wrap')} or {_has_class('jetpack_subscription_widget')}"
            f" or {_has_class('wp-block-jetpack-subscriptions')} or {_has_class('mc4wp-form')}"
            f" or {_has_class('sd-block')} or {_has_class('shariff')}"
            f" or {_has_class('crp_related')} or {_has_class('wp-block-jetpack-like')}]",
            "//div[@id='jp-post-flair' or @id='jp-relatedposts']",
            f"//nav[{_has_class('post-navigation')}]",
        ),
    ),
    # Ghost (https://ghost.org/docs/themes/): section.gh-content or .post-full-content;
    # members-only posts end in an upgrade call to action.
    Rule(
        name="ghost",
        page_type="blog",
        detect=_detect_ghost,
        content=(
            f"//*[{_has_class('gh-content')}]",
            f"//*[{_has_class('post-full-content')}]",
            f"//*[{_has_class('post-content')}]",
            f"//*[{_has_class('article-content')}]",
        ),
        prune=(
            f"//*[{_has_class('kg-signup-card')} or {_has_class('gh-post-upgrade-cta')}"
            f" or {_has_class('subscribe-form')} or {_has_class('kg-share')}]",
            "//form[@data-members-form]",
        ),
        paywall=(
            f"//*[{_has_class('gh-post-upgrade-cta')}]",
            f"//*[{_has_class('content-cta')}]",
        ),
    ),
    # ForumMagnum (LessWrong, Alignment Forum, EA Forum): the post body is
    # div.PostsPage-postContent; comments, votes and tags sit outside it.
    Rule(
        name="forummagnum",
        page_type="forum",
        title="//h1[contains(@class, 'PostsPageTitle')]",
        detect=_detect_forummagnum,
        content=(
            "//div[contains(@class, 'PostsPage-postContent')]",
            "//div[@id='postContent']",
        ),
        prune=(
            "//*[contains(@class, 'PostsPagePostFooter') or contains(@class, 'FooterTagList')"
            " or contains(@class, 'InlineReactSelectionWrapper')]",
        ),
    ),
    # arXiv abstract pages: blockquote.abstract with a "Abstract:" descriptor span.
    Rule(
        name="arxiv",
        page_type="paper",
        detect=_detect_arxiv,
        content=("//blockquote[contains(@class, 'abstract')]",),
        prune=("//blockquote[contains(@class, 'abstract')]//span[@class='descriptor']",),
        site_name="arXiv",
    ),
    # MediaWiki (Wikipedia and other wikis): #mw-content-text .mw-parser-output; edit
    # links, footnote markers, navboxes and maintenance banners are chrome.
    Rule(
        name="mediawiki",
        page_type="reference",
        title="//h1[@id='firstHeading']",
        detect=_detect_mediawiki,
        content=(
            "//div[@id='mw-content-text']/div[contains(@class, 'mw-parser-output')]",
            "//div[@id='mw-content-text']",
        ),
        prune=(
            f"//*[{_has_class('mw-editsection')} or {_has_class('reference')}"
            f" or {_has_class('navbox')} or {_has_class('navbox-styles')}"
            f" or {_has_class('ambox')} or {_has_class('metadata')} or {_has_class('noprint')}"
            f" or {_has_class('mw-jump-link')} or {_has_class('toc')} or @id='toc'"
            f" or {_has_class('sistersitebox')} or {_has_class('mw-empty-elt')}]",
        ),
    ),
)


def find_rule(tree: HtmlElement, url: str | None) -> Rule | None:
    """The first rule whose platform ``tree`` shows, or None."""
    page = PageFacts.of(tree)
    for rule in RULES:
        try:
            if rule.detect(tree, url or "", page):
                return rule
        except Exception:  # odd markup must not stop extraction
            continue
    return None


def content_node(rule: Rule, tree: HtmlElement, min_chars: int = 200) -> HtmlElement | None:
    """The single article container of ``rule`` in ``tree``, if it holds real text."""
    for xpath in rule.xpaths("content"):
        nodes = xpath(tree)
        if len(nodes) == 1:
            node = nodes[0]
            if len(" ".join(node.itertext()).strip()) >= min_chars:
                return node
        elif nodes:
            return None  # an index or archive page: leave it to generic extraction
    return None


def prune(rule: Rule, tree: HtmlElement) -> None:
    """Remove ``rule``'s chrome from ``tree`` in place, keeping the text that follows it."""
    for xpath in rule.xpaths("prune"):
        for node in xpath(tree):
            parent = node.getparent()
            if parent is None:
                continue
            if node.tail:
                previous = node.getprevious()
                if previous is not None:
                    previous.tail = (previous.tail or "") + node.tail
                else:
                    parent.text = (parent.text or "") + node.tail
            parent.remove(node)


def is_paywalled(rule: Rule, tree: HtmlElement) -> bool:
    """Whether ``tree`` shows ``rule``'s paywall markers."""
    return any(xpath(tree) for xpath in rule.xpaths("paywall"))


def rule_title(rule: Rule, tree: HtmlElement) -> str | None:
    """The headline from the platform's title element, if the rule names one."""
    if not rule.title:
        return None
    nodes = tree.xpath(rule.title)
    if not nodes:
        return None
    title = " ".join(" ".join(nodes[0].itertext()).split())
    return title or None
