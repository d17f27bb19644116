"""`python -m next3d ...` runs the command line interface."""

from next3d.cli import main

if __name__ == "__main__":
    main()
