"""What travels between the services and to partners: pure, no I/O of its own (see shared/README.md)."""
