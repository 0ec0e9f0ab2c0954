"""CMCD's wire syntax: an RFC 8941 (Structured Field Values) Dictionary, parsed exactly.

CTA-5004-B writes every CMCD payload (a header, a query value, or one line of an
event-mode POST body) as a Structured Field Dictionary: members `key[=value]`
separated by commas, each value an Item (Integer, Decimal, String, Token, Byte
Sequence, Boolean) or an Inner List of Items, each with optional `;key[=value]`
parameters. A member without `=` is the Boolean true (`su`, `bs`).

`parse_dictionary` follows RFC 8941 section 4.2 step by step and raises SfvError
with the position and the rule broken; `serialize_dictionary` is section 4.1, so
that a parsed dictionary serialises back to the canonical text (tested as a round trip).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Union


class SfvError(ValueError):
    """Text that is not a Structured Field Dictionary; the message says where and why."""


@dataclass(frozen=True)
class Token:
    """An RFC 8941 Token (`sta=p`, `ot=v`): a string written bare."""

    value: str


BareItem = Union[int, Decimal, str, Token, bytes, bool]
Params = dict[str, BareItem]


@dataclass(frozen=True)
class Item:
    value: BareItem
    params: Params = field(default_factory=dict)


@dataclass(frozen=True)
class InnerList:
    items: tuple[Item, ...]
    params: Params = field(default_factory=dict)


Member = Union[Item, InnerList]

_LCALPHA = frozenset("abcdefghijklmnopqrstuvwxyz")
_DIGIT = frozenset("0123456789")
_ALPHA = _LCALPHA | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_KEY_FIRST = _LCALPHA | {"*"}
_KEY_REST = _LCALPHA | _DIGIT | frozenset("_-.*")
# RFC 9110 tchar, plus ":" and "/" (RFC 8941 sf-token).
_TCHAR = _ALPHA | _DIGIT | frozenset("!#$%&'*+-.^_`|~")
_TOKEN_REST = _TCHAR | frozenset(":/")
_BASE64 = _ALPHA | _DIGIT | frozenset("+/=")
MAX_INTEGER = 999_999_999_999_999  # RFC 8941 3.3.1: at most 15 digits


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, why: str) -> SfvError:
        return SfvError(f"at character {self.pos}: {why}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_sp(self) -> None:
        while self.peek() == " ":
            self.pos += 1

    def skip_ows(self) -> None:
        while self.peek() in (" ", "\t") and self.peek():
            self.pos += 1

    # 4.2.2 Dictionary
    def dictionary(self) -> dict[str, Member]:
        members: dict[str, Member] = {}
        self.skip_sp()  # 4.2 step 2: leading SP discarded
        if self.pos == len(self.text.rstrip(" ")):
            return members
        while self.pos < len(self.text):
            key = self.key()
            if self.peek() == "=":
                self.pos += 1
                member: Member = self.item_or_inner_list()
            else:
                member = Item(True, self.parameters())
            members.pop(key, None)  # a repeated key: the last one wins, in its new place
            members[key] = member
            self.skip_ows()
            if self.pos >= len(self.text):
                return members
            if self.peek() != ",":
                raise self.fail(f"expected ',' after member {key!r}, found {self.peek()!r}")
            self.pos += 1
            self.skip_ows()
            if self.pos >= len(self.text):
                raise self.fail("trailing comma")
        return members

    def item_or_inner_list(self) -> Member:
        if self.peek() == "(":
            return self.inner_list()
        return Item(self.bare_item(), self.parameters())

    # 4.2.1.2 Inner List
    def inner_list(self) -> InnerList:
        self.pos += 1  # "("
        items: list[Item] = []
        while self.pos < len(self.text):
            self.skip_sp()
            if self.peek() == ")":
                self.pos += 1
                return InnerList(tuple(items), self.parameters())
            items.append(Item(self.bare_item(), self.parameters()))
            if self.peek() not in (" ", ")"):
                raise self.fail(f"expected ' ' or ')' in an inner list, found {self.peek()!r}")
        raise self.fail("inner list not closed")

    # 4.2.3.2 Parameters
    def parameters(self) -> Params:
        params: Params = {}
        while self.peek() == ";":
            self.pos += 1
            self.skip_sp()
            key = self.key()
            value: BareItem = True
            if self.peek() == "=":
                self.pos += 1
                value = self.bare_item()
            params.pop(key, None)
            params[key] = value
        return params

    # 4.2.3.3 Key
    def key(self) -> str:
        if self.peek() not in _KEY_FIRST or not self.peek():
            raise self.fail(f"a key starts with a lower-case letter or '*', not {self.peek()!r}")
        start = self.pos
        while self.peek() and self.peek() in _KEY_REST:
            self.pos += 1
        return self.text[start:self.pos]

    # 4.2.3.1 Bare Item
    def bare_item(self) -> BareItem:
        char = self.peek()
        if char == "-" or (char and char in _DIGIT):
            return self.number()
        if char == '"':
            return self.string()
        if char and (char in _ALPHA or char == "*"):
            return self.token()
        if char == ":":
            return self.byte_sequence()
        if char == "?":
            return self.boolean()
        raise self.fail(f"expected a value, found {char!r}" if char else "expected a value, found the end")

    # 4.2.4 Integer or Decimal
    def number(self) -> int | Decimal:
        sign = 1
        if self.peek() == "-":
            sign = -1
            self.pos += 1
        if not (self.peek() and self.peek() in _DIGIT):
            raise self.fail("a number needs a digit")
        digits_start = self.pos
        dot = -1
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in _DIGIT:
                self.pos += 1
            elif char == "." and dot < 0:
                if self.pos - digits_start > 12:
                    raise self.fail("a decimal has at most 12 integer digits")
                dot = self.pos
                self.pos += 1
            else:
                break
            if dot < 0 and self.pos - digits_start > 15:
                raise self.fail("an integer has at most 15 digits")
            if dot >= 0 and self.pos - digits_start > 16:
                raise self.fail("a decimal has at most 16 characters")
        text = self.text[digits_start:self.pos]
        if dot < 0:
            return sign * int(text)
        if text.endswith("."):
            raise self.fail("a decimal ends with a digit")
        if len(text) - (dot - digits_start) - 1 > 3:
            raise self.fail("a decimal has at most 3 fraction digits")
        return sign * Decimal(text)

    # 4.2.5 String
    def string(self) -> str:
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\":
                if self.pos >= len(self.text):
                    raise self.fail("a string ends in an escape")
                escaped = self.text[self.pos]
                if escaped not in ('"', "\\"):
                    raise self.fail(f"only \\\" and \\\\ are escapes in a string, not \\{escaped}")
                out.append(escaped)
                self.pos += 1
            elif char == '"':
                return "".join(out)
            elif not " " <= char <= "~":
                self.pos -= 1
                raise self.fail(f"a string holds printable ASCII only, not {char!r}")
            else:
                out.append(char)
        raise self.fail("a string is not closed")

    # 4.2.6 Token
    def token(self) -> Token:
        start = self.pos
        self.pos += 1
        while self.peek() and self.peek() in _TOKEN_REST:
            self.pos += 1
        return Token(self.text[start:self.pos])

    # 4.2.7 Byte Sequence
    def byte_sequence(self) -> bytes:
        self.pos += 1
        end = self.text.find(":", self.pos)
        if end < 0:
            raise self.fail("a byte sequence is not closed")
        body = self.text[self.pos:end]
        if any(char not in _BASE64 for char in body):
            raise self.fail("a byte sequence is base64")
        self.pos = end + 1
        try:
            return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise self.fail("a byte sequence is base64") from None

    # 4.2.8 Boolean
    def boolean(self) -> bool:
        self.pos += 1
        char = self.peek()
        if char not in ("0", "1") or not char:
            raise self.fail("a boolean is ?0 or ?1")
        self.pos += 1
        return char == "1"


def parse_dictionary(text: str) -> dict[str, Member]:
    """One CMCD payload as an ordered dict of its members (SfvError when malformed)."""
    return _Parser(text).dictionary()


# --- serialisation (RFC 8941 4.1) ------------------------------------------------


def serialize_bare_item(value: BareItem) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        if abs(value) > MAX_INTEGER:
            raise SfvError(f"integer {value} out of range")
        return str(value)
    if isinstance(value, Decimal):
        rounded = value.quantize(Decimal("0.001"))
        if abs(rounded) >= Decimal(10) ** 12:
            raise SfvError(f"decimal {value} out of range")
        text = format(rounded, "f").rstrip("0")
        return text + "0" if text.endswith(".") else text
    if isinstance(value, Token):
        return value.value
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    if isinstance(value, str):
        if any(not " " <= char <= "~" for char in value):
            raise SfvError("a string holds printable ASCII only")
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise SfvError(f"not a structured field value: {type(value).__name__}")


def serialize_params(params: Params) -> str:
    return "".join(f";{key}" if value is True else f";{key}={serialize_bare_item(value)}" for key, value in params.items())


def serialize_member(member: Member) -> str:
    if isinstance(member, InnerList):
        inner = " ".join(serialize_bare_item(i.value) + serialize_params(i.params) for i in member.items)
        return f"({inner}){serialize_params(member.params)}"
    return serialize_bare_item(member.value) + serialize_params(member.params)


def serialize_dictionary(members: dict[str, Member]) -> str:
    parts = []
    for key, member in members.items():
        if isinstance(member, Item) and member.value is True:
            parts.append(key + serialize_params(member.params))
        else:
            parts.append(f"{key}={serialize_member(member)}")
    return ",".join(parts)
