"""The CRI v1 protocol: ``api.proto`` and the code ``make proto`` generates from it."""
