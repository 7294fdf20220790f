"""A source record (`raw`) packed for storing, and read back.

Enters: a record (`pack`: a JSON object as parsed), or a stored value (`unpack`: bytes).
Leaves: one zstd frame of the record's compact JSON, made with the dictionary `raw-WRITTEN.zdict`
beside this module (real Federal Register records' text and statistics, built by
scripts/raw_dictionary.py: a 2 KB record packs to 0.55 KB instead of 0.95, twice as fast); and the
JSON bytes of a stored frame, made with any dictionary shipped here or none (rows written before
dictionaries). A frame naming a dictionary not shipped here, damaged, followed by anything, or
unpacking to more than `MAX_UNPACKED` bytes (a hand-edited cell can unpack to gigabytes) raises
`zstd.ZstdError` (read as a damaged cell) without being unpacked whole. The dictionaries are
checked when loaded: each file's name holds the id its content carries (`ValueError` naming the
file otherwise); a dictionary is never changed or removed once rows may have been written with it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from regwatch.jsonl import MAX_LINE_BYTES

try:
    from compression import zstd  # Python 3.14 and later
except ImportError:  # before 3.14: the same module from PyPI
    from backports import zstd

HERE = Path(__file__).parent
WRITTEN = 880891061  # the dictionary new frames are made with (`raw-<id>.zdict`)
LEVEL = 1  # zstd level: 2.2 KB of FR-shaped JSON → ~0.55 KB in ~6 µs (level 3: 0.5 KB, 9 µs)
FRAME_MAGIC = bytes.fromhex("28b52ffd")  # how every zstd frame begins
# No stored record can be larger than the longest line an import reads.
MAX_UNPACKED = MAX_LINE_BYTES
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def load_dictionaries(folder: Path = HERE) -> dict[int, zstd.ZstdDict]:
    """The `raw-<id>.zdict` dictionaries of `folder` by id; `ValueError` naming a file that is
    not a zstd dictionary of the id its name gives, or the `WRITTEN` one if it is missing (an
    incomplete install)."""
    found = {}
    for path in sorted(folder.glob("raw-*.zdict")):
        try:
            loaded = zstd.ZstdDict(path.read_bytes())
            named = int(path.stem.removeprefix("raw-"))
        except ValueError:
            raise ValueError(f"{path.name}: not a zstd dictionary named raw-<its id>") from None
        if loaded.dict_id != named:
            raise ValueError(f"{path.name}: holds dictionary {loaded.dict_id}, not {named}")
        found[named] = loaded
    if WRITTEN not in found:
        raise ValueError(f"raw-{WRITTEN}.zdict is missing from {folder}: the install is incomplete")
    return found


DICTIONARIES = load_dictionaries()
_compress = zstd.ZstdCompressor(LEVEL, zstd_dict=DICTIONARIES[WRITTEN]).compress


def packed_json(value: Any) -> bytes:
    """`value` as compact JSON in UTF-8: orjson's (five times faster; records never hold NaN or
    Infinity, which it would write as null: `jsonl.record_json` refuses them), or the standard
    encoder's for what orjson refuses (integers beyond 64 bits; text with a lone surrogate, which
    it names)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return _json(value).encode()


def pack(record: Any) -> bytes:
    """`record` as stored: one zstd frame of its compact JSON."""
    return _compress(packed_json(record), zstd.ZstdCompressor.FLUSH_FRAME)


def unpack(stored: bytes) -> bytes:
    """The JSON bytes of a stored frame (`zstd.ZstdError` if damaged, made with a dictionary
    this regwatch does not have, followed by more bytes, or unpacking to more than
    `MAX_UNPACKED` bytes)."""
    info = zstd.get_frame_info(stored)
    used = info.dictionary_id
    if used and used not in DICTIONARIES:
        raise zstd.ZstdError(f"made with zstd dictionary {used}, which this regwatch lacks")
    if zstd.get_frame_size(stored) != len(stored):  # zstd would unpack every frame after it
        raise zstd.ZstdError("holds more than one frame, or bytes after it")
    size = info.decompressed_size
    if size is None:  # a streamed frame: unpacked no further than the cap
        reader = zstd.ZstdDecompressor(zstd_dict=DICTIONARIES.get(used))
        data = reader.decompress(stored, max_length=MAX_UNPACKED)
        if reader.eof:
            return data
    elif size <= MAX_UNPACKED:  # into a buffer of the size the frame states, which it must keep
        return zstd.decompress(stored, zstd_dict=DICTIONARIES.get(used))
    raise zstd.ZstdError(f"unpacks to more than {MAX_UNPACKED >> 20} MiB, or is cut short")
