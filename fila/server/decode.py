"""Request decoding that answers INVALID_ARGUMENT, naming the field, for malformed bytes.

grpcio answers INTERNAL ("Exception deserializing request!") when a deserializer raises.
Our deserializers instead hand the handler a `BadRequest`, which it turns into
INVALID_ARGUMENT with a message saying which field was wrong (typically a string field
holding bytes that are not UTF-8).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError

from fila.errors import InvalidArgument


class BadRequest:
    __slots__ = ("error",)

    def __init__(self, error: InvalidArgument) -> None:
        self.error = error


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def find_problem(buf: bytes, desc: Descriptor, path: str = "") -> str:
    """Best-effort: which field of `desc` makes `buf` unparsable."""
    i = 0
    try:
        while i < len(buf):
            tag, i = _varint(buf, i)
            number, wire = tag >> 3, tag & 7
            field = desc.fields_by_number.get(number)
            name = f"{path}{field.name if field else f'field {number}'}"
            if wire == 0:
                _, i = _varint(buf, i)
            elif wire == 1:
                i += 8
            elif wire == 5:
                i += 4
            elif wire == 2:
                length, i = _varint(buf, i)
                if i + length > len(buf):
                    return f"{name} is truncated"
                chunk = buf[i:i + length]
                i += length
                if field is None:
                    continue
                if field.type == FieldDescriptor.TYPE_STRING:
                    try:
                        chunk.decode("utf-8")
                    except UnicodeDecodeError:
                        return f"{name} is not valid UTF-8"
                elif field.type == FieldDescriptor.TYPE_MESSAGE:
                    inner = find_problem(chunk, field.message_type, f"{name}.")
                    if inner:
                        return inner
            else:
                return f"{name} has an unknown wire type {wire}"
    except ValueError:
        return f"{path or 'the request'} is truncated"
    return ""


def safe(message_type: Any) -> Callable[[bytes], Any]:
    """A deserializer for message_type that returns BadRequest instead of raising."""
    from_string = message_type.FromString
    desc = message_type.DESCRIPTOR

    def decode(buf: bytes) -> Any:
        try:
            return from_string(buf)
        except (DecodeError, ValueError):
            problem = find_problem(buf, desc) or "the bytes do not parse"
            return BadRequest(InvalidArgument(f"malformed {desc.full_name}: {problem}"))

    return decode
