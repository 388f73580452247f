"""A demo deployment's people: the synthetic population that ГБД ФЛ and the АРМ seed, and the demo
citizens and staff (see shared/README.md)."""

DEFAULT_POPULATION_SIZE = 10_000  # people ГБД ФЛ generates on first start (settings: population_size)
DEFAULT_POPULATION_SEED = 20121229  # the same seed gives the same people in every service
