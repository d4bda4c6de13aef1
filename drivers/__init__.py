"""Hardware adapters: one module per device family, each behind a small interface that the
simulator implements too."""
