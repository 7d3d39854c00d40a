"""The door's column reads give what ``frame[name]`` gives, for every dtype the builder reads."""

import numpy as np
import pandas as pd
import pytest

from recommender.features.asof import to_ns
from recommender.features.door import SHORT_COLUMN, as_objects, column_array, column_at, column_values

FRAME = pd.DataFrame({
    "s": pd.Series(["a", None, "c"], dtype="str"),
    "s_full": pd.Series(["a", "é", ""], dtype="str"),  # no missing value: converted by Arrow
    "s_python": pd.Series(["a", "b", None], dtype="string[python]"),
    "o": pd.Series(["a", None, 3], dtype=object),
    "f": [1.5, np.nan, 3.0],
    "i": [1, 2, 3],
    "b": [True, False, True],
    "nullable": pd.array([1, None, 3], dtype="Int64"),
    "t_utc": pd.to_datetime(["2024-01-01", "2024-02-01", "1600-01-01"], utc=True,
                            format="ISO8601").as_unit("us"),
    "t_naive": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]).as_unit("ms"),
    "t_ny": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]).tz_localize(
        "America/New_York"),
    "cat": pd.Categorical(["x", "y", None]),
})


@pytest.mark.parametrize("name", list(FRAME.columns))
def test_column_values_are_the_series_values(name):
    pd.testing.assert_series_equal(pd.Series(column_values(FRAME, name), name=name),
                                   FRAME[name], check_exact=True)
    for dtype in (None, object):
        got, want = column_array(FRAME, name, dtype), FRAME[name].to_numpy(dtype=dtype)
        assert got.dtype == want.dtype
        assert (pd.isna(got) == pd.isna(want)).all()
        assert (got[~pd.isna(want)] == want[~pd.isna(want)]).all()


@pytest.mark.parametrize("name", list(FRAME.columns))
@pytest.mark.parametrize("repeat", [1, SHORT_COLUMN])
def test_column_at_gives_the_series_values_at_the_rows(name, repeat):
    """Short Arrow string columns come back as objects, long ones as Arrow's own array; the
    values (missing ones included) are the series' at the rows, in the order asked."""
    frame = pd.concat([FRAME] * repeat, ignore_index=True)
    rows = np.array([2, 0, 2, len(frame) - 2])
    got, want = column_at(frame, name, rows), frame[name].to_numpy()[rows]
    if isinstance(frame[name].dtype, pd.StringDtype) and frame[name].dtype.storage == "pyarrow":
        assert isinstance(got, np.ndarray) == (len(frame) <= SHORT_COLUMN)
    got = np.asarray(got, dtype=want.dtype)
    assert (pd.isna(got) == pd.isna(want)).all()
    assert (got[~pd.isna(want)] == want[~pd.isna(want)]).all()


def test_numpy_columns_come_back_read_only_and_the_frame_is_untouched():
    values = column_values(FRAME, "f")
    with pytest.raises(ValueError, match="read-only"):
        values[0] = 9.0
    assert FRAME["f"].iloc[0] == 1.5


@pytest.mark.parametrize("name", ["t_utc", "t_naive", "t_ny"])
def test_to_ns_reads_column_values_as_it_reads_the_series(name):
    if name == "t_utc":  # 1600 is beyond nanoseconds: both refuse it alike
        with pytest.raises(pd.errors.OutOfBoundsDatetime):
            to_ns(column_values(FRAME, name))
        with pytest.raises(pd.errors.OutOfBoundsDatetime):
            to_ns(FRAME[name])
        return
    np.testing.assert_array_equal(to_ns(column_values(FRAME, name)), to_ns(FRAME[name]))


def test_a_missing_or_repeated_column_is_refused_by_name():
    with pytest.raises(KeyError, match="nope"):
        column_values(FRAME, "nope")
    twice = pd.concat([FRAME[["f"]], FRAME[["f"]]], axis=1)
    with pytest.raises(ValueError, match="column 'f' appears more than once"):
        column_values(twice, "f")


def test_as_objects_gives_pandas_object_arrays_for_every_string_kind():
    for name in ("s", "s_full", "s_python", "o"):
        got, want = as_objects(FRAME[name]), FRAME[name].to_numpy(dtype=object)
        assert got.dtype == object and len(got) == len(want)
        assert [type(v) for v in got] == [type(v) for v in want]
        assert (pd.isna(got) == pd.isna(want)).all()
        assert (got[~pd.isna(want)] == want[~pd.isna(want)]).all()
