"""A tiny module to try hybrid-assist on: `scripts/run.sh` completes the body of `area`."""

from dataclasses import dataclass

from units import Length


@dataclass(frozen=True)
class Rectangle:
    width: Length
    height: Length

    def area(self) -> float:
        side: Length = self.width
