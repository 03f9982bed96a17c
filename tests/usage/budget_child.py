"""Child process of the multi-process budget test: ``python -m tests.usage.budget_child URL N AMOUNT``.

Waits for a go-file, then tries ``N`` reservations of ``AMOUNT`` for team
``shared`` and prints how many succeeded.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from routing.usage.budgets import BudgetManager
from routing.usage.database import open_engine
from routing.usage.errors import BudgetExceeded


def main() -> None:
    url, count, amount, go = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), Path(sys.argv[4])
    manager = BudgetManager(open_engine(url))
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    granted = 0
    for i in range(count):
        try:
            manager.reserve(f"proc-user-{i}", "shared", amount)
            granted += 1
        except BudgetExceeded:
            pass
    print(granted, flush=True)


if __name__ == "__main__":
    main()
