"""Message entities: the HTML parse mode, and the ``/command`` a user's text starts with.

HTML is parsed as Telegram parses it: the supported tags become entities, the four named
entities and numeric ones are decoded, and anything Telegram would refuse raises its
"can't parse entities" error (the wording after that prefix is only close to Telegram's).
Offsets and lengths are counted in UTF-16 code units, as Telegram counts them.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.wire import JSON, bad

_HTML_TOKEN = re.compile(r"<[^<>]*>|<|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|lt|gt|amp|quot);")
_HTML_TAG = re.compile(r"<\s*(/?)\s*([^\s/>]*)(.*?)/?\s*>", re.DOTALL)
_HTML_ATTR = re.compile(r"([A-Za-z_][\w-]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")
_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"'}
_LEADING_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{1,64})?(?=\s|$)")


def utf16_len(text: str) -> int:
    """Return the length in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> list[JSON]:
    """Return the ``bot_command`` entity of a leading ``/cmd`` or ``/cmd@bot``, if any."""
    command = _LEADING_COMMAND.match(text)
    if command is None:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(command[0])}]


def _unescape(token: str) -> str:
    """Decode one of the HTML entities Telegram supports (the four named ones and numeric)."""
    if token in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[token]
    number = token[2:-1]
    code = int(number[1:], 16) if number[:1] in ("x", "X") else int(number)
    return chr(code) if 0 < code <= 0x10FFFF else ""


def _unescape_all(text: str) -> str:
    """Decode the supported HTML entities inside an attribute value."""
    return _HTML_TOKEN.sub(lambda m: _unescape(m[0]) if m[0].startswith("&") else m[0], text)


def parse_html(source: str) -> tuple[str, list[JSON]]:
    """Return the plain text and entities of an HTML-formatted text, or raise as Telegram does."""
    out: list[str] = []
    offset = 0
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[JSON] = []
    position = 0

    def emit(chunk: str) -> None:
        nonlocal offset
        out.append(chunk)
        offset += utf16_len(chunk)

    for token in _HTML_TOKEN.finditer(source):
        emit(source[position : token.start()])
        position = token.end()
        if token[0].startswith("&"):
            emit(_unescape(token[0]))
            continue
        at = len(source[: token.start()].encode())
        tag = _HTML_TAG.fullmatch(token[0])
        if tag is None:
            raise bad(f"can't parse entities: Unclosed start tag at byte offset {at}")
        closing, name, rest = tag[1], tag[2].lower(), tag[3]
        if closing:
            if not stack:
                raise bad(f"can't parse entities: Unexpected end tag at byte offset {at}")
            open_name, start, attrs = stack.pop()
            if open_name != name:
                raise bad(
                    f"can't parse entities: Unmatched end tag at byte offset {at}, "
                    f'expected "</{open_name}>", found "</{name}>"'
                )
            entity = _html_entity(open_name, attrs, start, offset - start, stack)
            if entity is not None:
                entities.append(entity)
            continue
        attrs = {
            m[1].lower(): _unescape_all(m[2] or m[3] or m[4]) for m in _HTML_ATTR.finditer(rest)
        }
        if name not in _HTML_TAGS or (name == "span" and attrs.get("class") != "tg-spoiler"):
            raise bad(f'can\'t parse entities: Unsupported start tag "{name}" at byte offset {at}')
        stack.append((name, offset, attrs))
    emit(source[position:])
    if stack:
        raise bad(
            "can't parse entities: Can't find end tag corresponding to start tag "
            f'"{stack[-1][0]}"'
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _html_entity(
    name: str, attrs: dict[str, str], offset: int, length: int, parents: list[Any]
) -> JSON | None:
    """Return the entity a closed tag stands for, or None when Telegram would drop it."""
    if length == 0:
        return None
    if name == "code" and parents and parents[-1][0] == "pre":
        # <pre><code class="language-x"> is one pre entity with a language, not two entities.
        language = attrs.get("class", "")
        if language.startswith("language-"):
            parents[-1][2]["language"] = language.removeprefix("language-")
        return None
    entity: JSON = {"type": _HTML_TAGS[name], "offset": offset, "length": length}
    if name == "a":
        if "href" not in attrs:
            return None
        entity["url"] = attrs["href"]
    elif name == "pre" and attrs.get("language"):
        entity["language"] = attrs["language"]
    elif name == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    elif name == "tg-emoji":
        entity["custom_emoji_id"] = attrs.get("emoji-id", "")
    return entity
