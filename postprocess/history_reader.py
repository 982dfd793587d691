"""Reading a kollektiv history.h5, also while a run writes it.

The writer (io/history.hpp) uses HDF5's single-writer/multiple-reader mode: open the file
with SWMR read access (plain read access is refused while a run writes, and after a run
was killed), and cut every column at the committed rows, the length of the `row`
dataset, which the writer extends last in each row. Columns can be longer than that while
a row is being written.

    with HistoryReader("out/history.h5") as h:
        t = h.column("time_s")          # float64 array of h.rows values (None if absent)
        names = h.strings("stations/names")
"""
import h5py
import numpy as np


class HistoryReader:
    def __init__(self, path):
        self.path = path
        self.file = h5py.File(path, "r", swmr=True)
        if "row" in self.file:
            self.rows = int(self.file["row"].shape[0])
        elif "rows" in self.file.attrs:  # written before histories were readable while running
            self.rows = int(self.file.attrs["rows"])
        else:
            raise ValueError(f"{path} is not a kollektiv history file (no 'row' dataset)")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.file.close()

    def __contains__(self, name):
        return name in self.file

    @property
    def attrs(self):
        return self.file.attrs

    def column(self, name):
        """Column `name` ([rows] or [rows, width]) up to the committed rows, or None."""
        if name not in self.file:
            return None
        return np.asarray(self.file[name][: self.rows])

    def strings(self, name):
        """A static dataset of names as a list of str, or None."""
        if name not in self.file:
            return None
        return [v.decode() if isinstance(v, bytes) else str(v) for v in self.file[name][()]]
