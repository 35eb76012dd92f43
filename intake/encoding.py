"""Detect the encoding of a whole text file (UTF-8, UTF-8/UTF-16 with a BOM, or CP949).

Detection decodes the whole file once, in bounded chunks, so the readers can then decode it
strictly: a decoding error while reading means the file changed meanwhile.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from intake.source import SourceError

_DECODE_STEP = 64 * 1024


def detect_encoding(path: Path, *, sample_bytes: int = 1 << 20) -> str:
    """The encoding of the whole file: "utf-8", "utf-8-sig", "utf-16" or "cp949".

    A byte-order mark decides first (UTF-8 BOM: "utf-8-sig", UTF-16 LE/BE BOM: "utf-16"), and the
    rest of the file must then decode under it. Without one the whole file must decode as strict
    UTF-8 ("utf-8", which includes plain ASCII), else as CP949 (a superset of EUC-KR). The file
    is read in `sample_bytes`-sized chunks through an incremental decoder, so memory stays
    near that size; detection is per file, never per line.

    Refused with `SourceError`: anything else (the message gives the byte offset of the first
    sequence that is not UTF-8), UTF-32, and files holding NUL bytes - which also covers UTF-16
    without a BOM: that is out of scope, as telling it apart from binary data is guesswork.
    """
    if sample_bytes < 1:
        raise ValueError("sample_bytes must be positive")
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the data file ({exc.strerror})") from exc
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise SourceError(f"{path.name}: UTF-32 text is not supported; re-save it as UTF-8")
    for bom, codec, name in (
        (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16"),
    ):
        if head.startswith(bom):
            bad = _first_bad_byte(path, codec, skip=len(bom), chunk=sample_bytes)
            if bad is not None:
                raise SourceError(
                    f"{path.name}: starts with a {name.upper()} byte-order mark but has "
                    f"{_describe(bad)}; re-save it as UTF-8 and import again"
                )
            return name
    bad = _first_bad_byte(path, "utf-8", skip=0, chunk=sample_bytes, refuse_nul=True)
    if bad is None:
        return "utf-8"
    if bad[0] == "nul":
        raise SourceError(
            f"{path.name}: has {_describe(bad)}, so it is not a text file, or it is UTF-16 "
            "without a byte-order mark (not supported); re-save it as UTF-8 and import again"
        )
    if _first_bad_byte(path, "cp949", skip=0, chunk=sample_bytes) is None:
        return "cp949"
    raise SourceError(
        f"{path.name}: is neither UTF-8, UTF-16 nor CP949/EUC-KR text (the first byte sequence "
        f"that is not UTF-8 is at byte offset {bad[1]}); re-save it as UTF-8 and import again"
    )


def _describe(bad: tuple[str, int]) -> str:
    kind, offset = bad
    what = "a NUL byte" if kind == "nul" else "an invalid byte sequence"
    return f"{what} at byte offset {offset}"


def _first_bad_byte(
    path: Path, codec: str, *, skip: int, chunk: int, refuse_nul: bool = False
) -> tuple[str, int] | None:
    """("invalid" | "nul", absolute byte offset) of the first problem decoding, or None."""
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    # One reused read buffer, decoded in small steps: the text decoded is thrown away, so
    # memory stays near `chunk` bytes whatever the file size.
    buffer = bytearray(chunk)
    fed = skip  # absolute offset of buffer[0]
    try:
        with path.open("rb") as handle, memoryview(buffer) as view:
            handle.seek(skip)
            while size := handle.readinto(buffer):
                nul = buffer.find(b"\x00", 0, size) if refuse_nul else -1
                for start in range(0, size, _DECODE_STEP):
                    # Bytes the decoder still holds from the last step come before `start`:
                    # an error's position counts from the first of them.
                    pending = len(decoder.getstate()[0])
                    try:
                        decoder.decode(view[start : min(start + _DECODE_STEP, size)])
                    except UnicodeDecodeError as exc:
                        offset = fed + start - pending + exc.start
                        if 0 <= nul < offset - fed:
                            return "nul", fed + nul
                        return "invalid", offset
                if nul >= 0:
                    return "nul", fed + nul
                fed += size
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                return "invalid", fed - pending + exc.start
            return None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the data file ({exc.strerror})") from exc
