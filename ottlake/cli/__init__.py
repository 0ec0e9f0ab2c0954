"""The `ottlake` command: thin over the library."""
