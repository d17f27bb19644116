"""What an import of an official pickle found: loaded, skipped (and why), missing, unexpected, mis-shaped."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ImportReport:
    """Every tensor of the source network accounted for; `ok` when nothing required is missing or wrong."""

    source: str
    sha256: str
    which: str
    class_name: str
    architecture: str = "?"
    classes: dict[str, str] = field(default_factory=dict)  # module path -> official class name
    loaded: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> keys
    missing: list[str] = field(default_factory=list)  # our tensors the file lacks
    unexpected: list[str] = field(default_factory=list)  # file tensors we neither load nor knowingly skip
    misshaped: list[str] = field(default_factory=list)  # "key: file (..) vs model (..)"
    problems: list[str] = field(default_factory=list)  # other blocking findings (head mismatch, ...)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.misshaped or self.problems)

    def skip(self, reason: str, key: str) -> None:
        self.skipped.setdefault(reason, []).append(key)

    def skipped_keys(self) -> list[str]:
        return sorted(k for keys in self.skipped.values() for k in keys)

    def summary(self) -> str:
        """One line: counts of each kind."""
        return (f"{len(self.loaded)} loaded, {len(self.skipped_keys())} skipped, {len(self.missing)} missing, "
                f"{len(self.unexpected)} unexpected, {len(self.misshaped)} mis-shaped, {len(self.problems)} other problems")

    def lines(self) -> list[str]:
        """The report as text lines (every problem listed; skipped tensors grouped by reason)."""
        out = [f"source:       {self.source}", f"sha256:       {self.sha256}",
               f"network:      {self.which} ({self.class_name}, {self.architecture})"]
        out += [f"class:        {path}: {name}" for path, name in self.classes.items() if path]
        out += [f"note:         {note}" for note in self.notes]
        for reason, keys in sorted(self.skipped.items()):
            out.append(f"skipped ({len(keys)}): {reason}")
            out += [f"    {k}" for k in sorted(keys)]
        for label, items in (("MISSING", self.missing), ("UNEXPECTED", self.unexpected),
                             ("MIS-SHAPED", self.misshaped), ("PROBLEM", self.problems)):
            out += [f"{label}: {item}" for item in items]
        out.append(f"summary:      {self.summary()}")
        return out
