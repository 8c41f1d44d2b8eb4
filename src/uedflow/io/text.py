"""Text inputs (experiment and simulation TOML, manifest CSV, PONI): UTF-8 or one clear error."""

from __future__ import annotations

from pathlib import Path

from uedflow.errors import FileFormatError

__all__ = ["read_text"]


def read_text(path: Path, what: str) -> str:
    """The text of UTF-8 file ``path`` (a leading byte-order mark is dropped), read as ``what`` (for messages).

    Raises
    ------
    FileFormatError
        The file is not UTF-8 (a Latin-1 editor's ``é``, a binary file): the message names the line and the
        byte, and says how to fix it. OSError from opening the file passes through.
    """
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise FileFormatError(
            f"{what} {path} is not UTF-8 text: line {line}, byte {column} (offset {exc.start}) is "
            f"0x{data[exc.start]:02X}; save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8 {path.name} > utf8-{path.name}` "
            "and use that file) or check that this is the right file") from None

