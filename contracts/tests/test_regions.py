from aid_contracts import regions


def test_names_of_province_city_and_county_codes_in_any_form():
    assert regions.name("52") == regions.name("520000") == "贵州省"
    assert regions.name("5201") == regions.name("520100") == "贵阳市"
    assert regions.name("520115") == "观山湖区"
    assert regions.names(["5201", "520115", "999999", "abc"]) == {"5201": "贵阳市", "520115": "观山湖区"}


def test_a_renamed_or_retired_code_has_the_name_of_the_year_asked_and_else_its_last():
    assert regions.name("120110", 1990) == "东郊区" and regions.name("120110") == "东丽区"
    assert regions.name("110104") == "宣武区"  # retired in 2010: an old ID number still names it
    assert regions.valid_in("110104", 2005) and not regions.valid_in("110104", 2012)
    assert regions.name("52010") is None and regions.name("") is None


def test_a_municipality_s_districts_are_named_with_their_province():
    assert regions.name("1101") == "北京市市辖区" and regions.name("5001") == "重庆市市辖区"
    assert regions.name("110101") == "东城区" and regions.name("11") == "北京市"
