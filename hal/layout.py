"""Packed little-endian layouts of message bodies, declared on dataclass fields."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import math
import operator
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar, get_type_hints

from hal.errors import ProtocolError

_FORMATS = {"B": "u8", "H": "u16", "I": "u32", "b": "i8", "h": "i16", "i": "i32", "f": "f32"}


@dataclass(frozen=True, slots=True)
class Wire:
    """How one field travels: its struct format, unit, accepted range and meaning."""

    fmt: str
    unit: str = ""
    lo: float | None = None
    hi: float | None = None
    doc: str = ""

    @property
    def type_name(self) -> str:
        return _FORMATS[self.fmt]

    def accepts(self, value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        return (self.lo is None or value >= self.lo) and (self.hi is None or value <= self.hi)


def wire(
    fmt: str, unit: str = "", *, lo: float | None = None, hi: float | None = None, doc: str = ""
) -> Any:
    """A dataclass field that carries its wire format (``B H I b h i f``) and range."""
    if fmt not in _FORMATS:
        raise ValueError(f"fmt: {fmt!r} is not one of {''.join(_FORMATS)}")
    return dataclasses.field(metadata={"wire": Wire(fmt, unit, lo, hi, doc)})


class _Dataclass(Protocol):
    __dataclass_fields__: ClassVar[dict[str, Any]]


T = TypeVar("T", bound=_Dataclass)


class Layout(Generic[T]):
    """Packs and unpacks instances of one dataclass whose fields were declared with :func:`wire`."""

    def __init__(self, cls: type[T]) -> None:
        self.cls = cls
        self.fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        self.wires = tuple(f.metadata["wire"] for f in self.fields)
        self._struct = struct.Struct("<" + "".join(w.fmt for w in self.wires))
        hints = get_type_hints(cls)
        self._enums = tuple(hints[f.name] if _is_enum(hints[f.name]) else None for f in self.fields)
        #: The fields' values of an instance, in order, as a tuple.
        self._values = _getter(tuple(f.name for f in self.fields))
        #: (index, enum, its members by value) of each enum field: a known value is looked up.
        self._enum_fields = tuple(
            (i, e, e._value2member_map_) for i, e in enumerate(self._enums) if e is not None
        )

    @property
    def size(self) -> int:
        return self._struct.size

    def pack(self, obj: T) -> bytes:
        values = self._values(obj)
        try:
            return self._struct.pack(*values)
        except struct.error as exc:
            raise ValueError(f"{self.cls.__name__}: cannot pack {list(values)}: {exc}") from None

    def unpack(self, body: bytes) -> T:
        """Decode a body; raise :class:`ProtocolError` when its length is wrong."""
        if len(body) != self._struct.size:
            raise ProtocolError(
                f"{self.cls.__name__} body is {len(body)} bytes, expected {self._struct.size}"
            )
        values = self._struct.unpack(body)
        if not self._enum_fields:
            return self.cls(*values)
        converted = list(values)
        for i, enum_type, members in self._enum_fields:
            member = members.get(converted[i])
            if member is None:
                # An unknown enum value stays a plain int, for range checks to name.
                with contextlib.suppress(ValueError):
                    member = enum_type(converted[i])
            if member is not None:
                converted[i] = member
        return self.cls(*converted)

    def first_out_of_range(self, obj: T) -> int | None:
        """Index of the first field outside its declared range (or not a known enum member)."""
        columns = zip(self.fields, self.wires, self._enums, strict=True)
        for i, (f, w, enum_type) in enumerate(columns):
            value = getattr(obj, f.name)
            if enum_type is not None and not isinstance(value, enum_type):
                return i
            if not w.accepts(value):
                return i
        return None


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A function that gives the values of these attributes of an object, as a tuple."""
    if len(names) > 1:
        return operator.attrgetter(*names)
    return lambda obj: tuple(getattr(obj, name) for name in names)


def _is_enum(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, enum.Enum)


_layouts: dict[type, Layout[Any]] = {}


def layout_of(cls: type[T]) -> Layout[T]:
    """The (cached) :class:`Layout` of a wire dataclass."""
    found = _layouts.get(cls)
    if found is None:
        found = _layouts[cls] = Layout(cls)
    return found
