"""The `micd` command. Each module registers its own subcommands."""
