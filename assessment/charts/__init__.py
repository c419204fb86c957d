"""Charts as Altair specifications: scores and levels of one assessment, comparisons across units."""
