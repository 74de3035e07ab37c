"""The base of the package's string enums (reasons, statuses, codes)."""

from enum import Enum


class Name(str, Enum):
    """A name the library uses in its JSON, as an enum that is also a
    ``str``: it compares equal to the plain text and prints as it."""

    def __str__(self) -> str:
        return str(self.value)
