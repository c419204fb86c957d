"""The live workshop: decks, vote tallies, its storage, and what its pages draw."""
