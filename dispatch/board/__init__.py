"""The command centre's view: the board of open events and the live change stream."""
