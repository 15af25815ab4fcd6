"""The service chassis: what every service of the platform shares."""
