"""Text formatters for the screens: chain data, event lines, wallet rows, units."""
