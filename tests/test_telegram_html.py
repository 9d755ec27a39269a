"""A message's text as the playground shows it: Telegram's entities as the page's tags, and
nothing else of the text as markup."""

from __future__ import annotations

import pytest

from engine.web.telegram_html import as_html


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("<b>bold</b> <strong>too</strong>", "<b>bold</b> <b>too</b>"),
        ("<i>it</i><em>em</em><u>u</u><ins>i</ins>", "<i>it</i><i>em</i><u>u</u><u>i</u>"),
        ("<s>a</s><strike>b</strike><del>c</del>", "<s>a</s><s>b</s><s>c</s>"),
        ("<code>x &lt; 1</code>", "<code>x &lt; 1</code>"),
        (
            '<pre><code class="language-py">print(1)</code></pre>',
            "<pre><code>print(1)</code></pre>",
        ),
        ("<tg-spoiler>secret</tg-spoiler>", '<span class="spoiler" tabindex="0">secret</span>'),
        ('<span class="tg-spoiler">s</span>', '<span class="spoiler" tabindex="0">s</span>'),
        ("<blockquote>said</blockquote>", "<blockquote>said</blockquote>"),
        (
            '<a href="https://example.org/?a=1&amp;b=2">site</a>',
            '<a href="https://example.org/?a=1&amp;b=2" target="_blank" '
            'rel="noopener noreferrer">site</a>',
        ),
        ('<a href="javascript:alert(1)">x</a>', '<span class="link">x</span>'),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ('<img src=x onerror="alert(1)">', '&lt;img src=x onerror="alert(1)"&gt;'),
        ("Tom &amp; Jerry &lt;3", "Tom &amp; Jerry &lt;3"),
        ("<b>never closed", "<b>never closed</b>"),
    ],
)
def test_html_is_shown_as_telegram_shows_it(text: str, shown: str) -> None:
    assert as_html(text, "HTML") == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "*bold* _italic_ __under__ ~strike~",
            "<b>bold</b> <i>italic</i> <u>under</u> <s>strike</s>",
        ),
        ("*bold _both_*", "<b>bold <i>both</i></b>"),
        ("||hidden||", '<span class="spoiler" tabindex="0">hidden</span>'),
        ("Price: 9\\.50 \\*not bold\\*", "Price: 9.50 *not bold*"),
        ("`a < b`", "<code>a &lt; b</code>"),
        ("```python\nprint(1 < 2)\n```", "<pre>print(1 &lt; 2)\n</pre>"),
        (
            "[the *site*](https://example.org/a\\)b)",
            '<a href="https://example.org/a)b" target="_blank" rel="noopener noreferrer">'
            "the <b>site</b></a>",
        ),
        ("[x](javascript:alert(1\\))", '<span class="link">x</span>'),
        (">quoted\n>more\nafter", "<blockquote>quoted\nmore\n</blockquote>after"),
        ("<b>not a tag</b>", "&lt;b&gt;not a tag&lt;/b&gt;"),
    ],
)
def test_markdown_v2_is_shown_as_telegram_shows_it(text: str, shown: str) -> None:
    assert as_html(text, "MarkdownV2") == shown


def test_plain_text_is_only_escaped() -> None:
    assert as_html("<b>1 & 2</b>", None) == "&lt;b&gt;1 &amp; 2&lt;/b&gt;"
