"""Masks for personal data shown to people who may not see it whole (a shredded field's
placeholder, ``aid_chassis.fields.SHREDDED``, is shown as it is)."""

SHREDDED = "（已销毁）"  # a shredded student's name or ID number on a screen (aid_chassis.fields)


def mask_id_number(value: str) -> str:
    """``110101201001011234`` → ``1101**********1234``."""
    if value == SHREDDED:
        return value
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_name(value: str) -> str:
    """``张三`` → ``张*``, ``张小三`` → ``张*三``, ``欧阳小明`` → ``欧**明``."""
    if value == SHREDDED:
        return value
    if len(value) <= 1:
        return "*"
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]
