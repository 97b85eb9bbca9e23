"""User strings shown as they are: what a terminal or a text layout engine would act on (control characters, the
bytes of a file name that is not UTF-8) is written visibly as \\xNN; everything else, `[/]`, `%s` and `{}`
included, is left alone."""

from __future__ import annotations

import re

# what a terminal would act on: C0 controls but newline and tab, DEL, C1 controls (ESC starts ANSI sequences);
# lone surrogates are the bytes of a name that is not UTF-8 (os.fsdecode), which no terminal can be sent
_ACTIVE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte os.fsdecode could not decode
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def first_line(error: BaseException) -> str:
    """An exception's first line (libraries append help paragraphs and tracebacks), or its type when it says nothing."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def shown(value: object) -> str:
    """A user's string as it is, with what a terminal would act on (control characters, bytes that are not
    UTF-8) written visibly as \\xNN: printed with `Text`, never read as markup or a format string."""
    return _ACTIVE.sub(_visible, str(value))
