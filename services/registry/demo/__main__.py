"""``python -m services.registry.demo --database-url URL --count N [--seed S] [--replace]``."""

from __future__ import annotations

import argparse
import sys

from services.registry.demo.loader import RegistryNotEmpty, load_population


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.registry.demo",
        description="Load a deterministic demo population into the registry database.",
    )
    parser.add_argument("--database-url", required=True, help="postgresql:// URL of the registry")
    parser.add_argument("--count", type=int, required=True, help="number of residents")
    parser.add_argument("--seed", type=int, default=2021, help="same seed, same people")
    parser.add_argument(
        "--replace",
        action="store_true",
        help="delete the residents already there (and their records) first",
    )
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("--count must not be negative")
    try:
        report = load_population(args.database_url, args.count, args.seed, replace=args.replace)
    except RegistryNotEmpty as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
