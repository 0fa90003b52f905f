// Entry point of the `convkit` command-line tool.
ConvKitCommand.main()
