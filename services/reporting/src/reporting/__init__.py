"""reporting: Progress reports by jurisdiction (进度统计)."""
