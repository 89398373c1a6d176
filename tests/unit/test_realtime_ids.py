"""Id codes assigned on whole columns (realtime.ids): stable across batches, one per normalised id, and never a
wrong id for a row — failing, suspect and colliding spellings go to the exact path."""

import polars as pl
import pytest

from core.db.models.assets import normalise_tag_id
from realtime.ids import FAILS, IdTable, PerCode

pytestmark = pytest.mark.unit


def _table(**options: object) -> IdTable:
    return IdTable(normalise_tag_id, suspect=r"^[0-9]+$", **options)  # type: ignore[arg-type]


def test_codes_are_stable_across_batches_and_shared_by_spellings_of_one_tag() -> None:
    table = _table()
    first = table.column_codes(pl.Series(["aa:bb:cc", "0A0B", "AABBCC"])).tolist()
    second = table.column_codes(pl.Series(["C0FFEE", "aa-bb-cc", "0a0b", "AABBCC"])).tolist()
    assert first[0] == first[2] == second[1] == second[3]
    assert first[1] == second[2] != first[0]
    assert [table.names[c] for c in second] == ["C0FFEE", "AABBCC", "0A0B", "AABBCC"]
    assert table.spelling_codes(["aa:bb:cc", "c0:ff:ee"]).tolist() == [first[0], second[0]]


def test_ids_that_do_not_normalise_are_suspect_or_null_fail() -> None:
    table = _table()
    codes = table.column_codes(pl.Series(["not a tag!", "123456", None, "", "AABBCC"])).tolist()
    assert codes[:4] == [FAILS] * 4
    assert table.names[codes[4]] == "AABBCC"
    # A Python string is never suspect: only polars makes strings out of JSON numbers.
    assert table.names[int(table.spelling_codes(["123456"])[0])] == "123456"


def test_a_row_whose_hash_matches_another_spelling_fails_instead_of_taking_its_code() -> None:
    table = _table()
    table.column_codes(pl.Series(["AABBCC"]))
    # Make the stored spelling of that hash another id, as a 64-bit collision would.
    table._spellings = pl.Series(["DDEEFF"])
    assert table.column_codes(pl.Series(["AABBCC"])).tolist() == [FAILS]


def test_the_table_starts_over_past_its_bound_and_says_so() -> None:
    table = _table(max_ids=3)
    table.column_codes(pl.Series(["AA01", "AA02", "AA03", "AA04"]))
    assert table.generation == 0
    codes = table.column_codes(pl.Series(["AA05"])).tolist()
    assert table.generation == 1
    assert table.names == ["AA05"] and codes == [0]


def test_per_code_values_are_looked_up_once_until_forgotten_or_the_table_starts_over() -> None:
    table = _table(max_ids=3)
    rows = PerCode(table)
    asked: list[list[str]] = []

    def resolve(names: list[str]) -> list[int]:
        asked.append(names)
        return [len(name) for name in names]

    codes = table.column_codes(pl.Series(["AA01", "AABBCC", "AA01"]))
    assert rows.get(codes, resolve).tolist() == [4, 6, 4]
    assert rows.get(codes, resolve).tolist() == [4, 6, 4]
    assert [sorted(names) for names in asked] == [["AA01", "AABBCC"]]  # each id once
    rows.forget()  # e.g. the catalog changed
    rows.get(codes[:1], resolve)
    assert asked[-1] == ["AA01"]
    table.column_codes(pl.Series(["AA02", "AA03"]))
    fresh = table.column_codes(pl.Series(["C0FFEE"]))  # past its bound: codes start over
    assert rows.get(fresh, resolve).tolist() == [6] and asked[-1] == ["C0FFEE"]
