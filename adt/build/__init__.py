"""Building and destroying fleets."""
