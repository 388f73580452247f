"""The command-line clients (citizen and clinic staff) and their common module.

They speak HTTP and sign locally, with nothing but ``shared.wire``."""
