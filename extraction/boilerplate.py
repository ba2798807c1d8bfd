"""Drop the boilerplate paragraphs generic extractors keep: ``clean_paragraphs(list) -> list``.

Works on extracted paragraphs (one per line of trafilatura's text output). Each rule
only touches short paragraphs, so real prose that mentions "subscribe" survives; the
patterns were collected from the false positives of trafilatura on the dev set and from
Substack, Medium and WordPress chrome, in the languages the wiki cites most.
"""

from __future__ import annotations

import re

# A paragraph longer than this is prose, whatever words it contains.
SHORT = 220
# A "related / read next" heading only ends the article in its last part: 0.6 measured
# on the dev set (earlier cuts lost real text on pages with inline "see also" lists).
TAIL_FRACTION = 0.6

_I = re.IGNORECASE
# "Read also: <headline>" teasers inserted between paragraphs of news articles.
_TEASER = re.compile(
    r"^\W{0,3}(lea (también|además|más)|lee (también|además)|lea|mire|mira|vea también|ver también|"
    r"puedes ver|le puede interesar|te puede interesar|también te puede interesar|"
    r"read (also|more|next)|see also|related|also read|you may also like|recommended|"
    r"à lire aussi|lire aussi|a lire aussi|voir aussi|"
    r"lesen sie (auch|mehr)( die folgenden beiträge)?|auch (interessant|lesen)|schon gelesen\??|"
    r"zum weiterlesen|mehr zum thema|mehr themen|weitere beiträge( aus der \w+)?|"
    r"weiterlesen|czytaj (też|także|również|więcej)|zobacz (też|także|również)|"
    r"leggi anche|leia (também|mais))\s*[:?!|»>\-–]",
    _I,
)
# Whole paragraphs that are chrome: buttons, counters, share bars, labels.
_CHROME = re.compile(
    r"^\W*("
    r"subscribe( now)?|sign (in|up)|log ?in|share( this( post| article)?)?|share on \w+|"
    r"tweet|email|print|like|likes?|comments?|reply|replies|leave a (comment|reply)|"
    r"\d+\s*(likes?|comments?|shares?|replies|restacks?)|"
    r"\d+\s*(min(ute)?s?|mins?) read|listen|save|copy link|"
    r"teilen( mit)?|bewerten|drucken|wird geladen|loading\.*|gefällt mir|"
    r"compartir|comentarios?|partager|imprimer|udostępnij|"
    r"(related|similar|recent|popular|more) (posts?|articles?|stories)|"
    r"notas relacionadas|contenido relacionado|noticias relacionadas|artículos relacionados|"
    r"ähnliche (beiträge|artikel)|verwandte artikel|weitere artikel|articles similaires|"
    r"tags?|temas|schlagwörter|themen|kategorien?|categories|inhaltsverzeichnis|"
    r"table of contents|contents|weitere themen|empfohlene beiträge|kommentierte artikel|"
    r"weitere artikel zum thema|keine kommentare|no comments( yet)?|lust auf mehr\?|"
    r"dowiedz się więcej|learn more|mehr erfahren|"
    r"(titelbild|crédits? photos?|photo credit|bildquelle|foto|fotos|image)\s*:.{0,80}|"
    r"(back|zurück) (to|zum|zur) (the )?(newsroom|overview|übersicht|homepage|startseite)|"
    r"(veröffentlicht( am)?|veröffentlichung|published( on)?|publicado( el)?)\s*:?\s*"
    r"[\d.\s/-]{6,12}|"
    r"(letzte änderung|last change)\s*:?.{0,40}|stand\s*:\s*[\d.\s/-]{6,12}|"
    r"(categor(y|ía|ie)|kategorie|filed under|posted in|tagged( with)?|schlagwörter|tags?)"
    r"\s*:.{0,120}|"
    r"(last (modified|updated)|aktualisiert( am)?|zuletzt aktualisiert|release date)\s*:?.{0,40}|"
    r"(zum )?newsletter( anmelden| abonnieren)?|sign up for (our|the) newsletter.{0,80}|"
    r"advertisement|anzeige|werbung|publicidad|reklama"
    r")\W*$",
    _I,
)
# Sentences that mark a short paragraph as a call to action or legal notice.
_CALL_TO_ACTION = re.compile(
    r"(subscribe (to (continue|keep) reading|(to|for) (full|unlimited) access|"
    r"to (our|the) newsletter|"
    r"now to our|now for)|"
    r"to view the full story|already a (paid )?subscriber|"
    r"(follow|like) (us|the \w+( \w+)?) on (twitter|facebook|instagram|x\b|linkedin|telegram)|"
    r"download the .{1,40} apps? for|"
    r"this (article|post|content) is the copyrighted property|"
    r"written permission must be obtained|all rights reserved|"
    r"if you (enjoyed|liked) (reading )?this (post|article)|"
    r"(we|this (site|website)) uses? cookies|by continuing to (browse|use) (this|the|our)|"
    r"nous utilisons des cookies|wir verwenden cookies|diese (website|seite) verwendet cookies|"
    r"utilizamos cookies|używamy (plików )?cookies|"
    r"(this|the) post (contains|may contain) (references to products|affiliate links)|"
    r"we may receive compensation|advertisers do not influence|"
    r"dieser (beitrag|artikel) enthält (werbung|affiliate)|^\W*werbung\W|"
    r"dołącz do dyskusji|"
    r"cookie (settings|policy|preferences|einstellungen)|"
    r"thanks for reading .{1,60}(subscribe|free)|"
    r"subscribe (for free )?to receive new posts|"
    r"pour (lire la suite|accéder en illimité)|"
    r"hazte miembro|únete (a nuestro|desde tu)|síguenos en|siguenos en|"
    r"never miss the latest news|get the .{1,30} (daily edition|newsletter|app)|"
    r"we want to hear what you think about this article|"
    r"sie sind (aktuell|derzeit) nicht eingeloggt|materiał chroniony prawem|"
    r"zapraszamy (też )?do subskrypcji|enthält affiliate[- ]links|alle angaben ohne gewähr|"
    r"abonnieren sie (unseren|den) newsletter)",
    _I,
)
# Headings after which a page lists other articles, not this one's text.
_TAIL_HEADING = re.compile(
    r"^\W*(related( posts| articles| stories| content)?|you (may|might) also like|read next|"
    r"more from .{1,40}|recommended( for you)?|popular (posts|articles)|"
    r"notas relacionadas|contenido relacionado|noticias relacionadas|te puede interesar|"
    r"das könnte sie auch interessieren|weitere artikel|ähnliche beiträge|mehr zum thema|"
    r"à lire aussi|sur le même sujet|czytaj także|zobacz także|polecane|"
    r"comments|kommentare|comentarios|commentaires|komentarze)\W*$",
    _I,
)


def is_boilerplate(paragraph: str) -> bool:
    """Whether ``paragraph`` (one extracted block) is page chrome rather than content."""
    text = paragraph.strip()
    if not text:
        return True
    if len(text) > SHORT:
        return False
    return bool(_CHROME.match(text) or _TEASER.match(text) or _CALL_TO_ACTION.search(text))


def clean_paragraphs(paragraphs: list[str]) -> list[str]:
    """Drop boilerplate paragraphs and everything after a late "related posts" heading."""
    total = sum(len(p) for p in paragraphs) or 1
    kept: list[str] = []
    seen = 0
    for paragraph in paragraphs:
        seen += len(paragraph)
        text = paragraph.strip()
        if kept and seen / total > TAIL_FRACTION and _TAIL_HEADING.match(text):
            break
        if not is_boilerplate(text):
            kept.append(text)
    return kept
