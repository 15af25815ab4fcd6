"""publicity: Aid lists and the 5-working-day public notice (公示)."""
