"""query: Read models for jurisdictions and the public personal lookup (个人查询)."""
