"""Units used by geometry.py (so the request's scope reaches a second file)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Length:
    metres: float

    def __mul__(self, other: "Length") -> float:
        return self.metres * other.metres
