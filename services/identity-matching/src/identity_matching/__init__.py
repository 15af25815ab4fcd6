"""identity-matching: compares department lists with the enrolment roster (大数据比对)."""
