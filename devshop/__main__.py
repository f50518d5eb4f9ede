"""`python -m devshop <command>`: Django management commands of the development store."""
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devshop.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["devshop", *sys.argv[1:]])


if __name__ == "__main__":
    main()
