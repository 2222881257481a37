"""``python -m farmorm``: the farmorm command."""

from farmorm.cli import main

if __name__ == "__main__":
    main()
