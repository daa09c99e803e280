"""Command-line interface: thin wrappers over library calls."""
