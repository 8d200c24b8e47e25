"""Dataset container. Placeholder until implemented."""


class Dataset:
    def __init__(self, **tables):
        self._tables = tables


def read_dataset(path, **kwargs):
    raise NotImplementedError
