"""The demo company. Placeholder until implemented."""


def load_demo(seed: int = 0, n_leads: int = 20_000):
    raise NotImplementedError("the demo company is being implemented")
