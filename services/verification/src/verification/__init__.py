"""verification: Schools verify their matched students (学校核对); bureaus audit (审核)."""
