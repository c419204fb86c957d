"""Regional networks: agreements and their follow-up, comparison across units and years, demo data."""
