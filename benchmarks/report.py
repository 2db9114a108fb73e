"""How the benchmark scripts print their reports: titled sections of figures, one a line."""


def print_section(title: str, values: dict, *, width: int) -> None:
    """The title on a line of its own after a blank one, then each key right-aligned to `width`."""
    print(f"\n{title}")
    for key, value in values.items():
        print(f"  {key:>{width}}: {value}")
