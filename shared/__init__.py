"""Emhana's common package: identifiers, signed envelopes, certificates, the bus, settings, storage."""
