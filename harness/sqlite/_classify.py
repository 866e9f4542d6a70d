"""What a SQL statement is, as far as scheduling and faults care.

The classification only decides *where faults may be offered* and how the
timeline labels a statement; every effect and error still comes from SQLite.
``dml`` follows CPython's own rule for the implicit ``BEGIN`` (the statement,
after leading whitespace and comments, starts with INSERT, UPDATE, DELETE or
REPLACE).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?(?:\*/|$))*", re.S)
_WORD = re.compile(r"[A-Za-z]+")
_WRITE_WORD = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.I)
_JOURNAL_READ = re.compile(r"\s*PRAGMA\s+(?:\w+\s*\.\s*)?journal_mode\s*;?\s*", re.I)


@dataclass(frozen=True, slots=True)
class Statement:
    keyword: str  # first keyword, upper case ("" if none)
    dml: bool  # CPython opens an implicit transaction before it
    write: bool  # modifies the database (DML, or a WITH … INSERT/UPDATE/DELETE)
    commit: bool  # COMMIT / END
    begin_lock: bool  # BEGIN IMMEDIATE / EXCLUSIVE: takes the write lock at once
    busy_timeout: bool  # mentions the busy_timeout pragma
    journal_mode: bool  # mentions the journal_mode pragma
    journal_mode_read: bool  # is exactly ``PRAGMA journal_mode`` (reads it, sets nothing)
    special: bool = False  # busy_timeout or journal_mode: a pragma harness must see (careful path)

    def __post_init__(self) -> None:
        object.__setattr__(self, "special", self.busy_timeout or self.journal_mode)


@functools.lru_cache(maxsize=4096)
def classify(sql: str) -> Statement:
    start = _LEADING.match(sql)
    rest = sql[start.end() if start else 0 :]
    words = _WORD.findall(rest[:64])
    keyword = words[0].upper() if words else ""
    second = words[1].upper() if len(words) > 1 else ""
    dml = keyword in ("INSERT", "UPDATE", "DELETE", "REPLACE")
    write = dml or (keyword == "WITH" and bool(_WRITE_WORD.search(rest)))
    lowered = sql.lower()
    return Statement(
        keyword=keyword,
        dml=dml,
        write=write,
        commit=keyword in ("COMMIT", "END"),
        begin_lock=keyword == "BEGIN" and second in ("IMMEDIATE", "EXCLUSIVE"),
        busy_timeout="busy_timeout" in lowered,
        journal_mode="journal_mode" in lowered,
        journal_mode_read=bool(_JOURNAL_READ.fullmatch(rest)),
    )


NOT_SQL = Statement("", False, False, False, False, False, False, False)
