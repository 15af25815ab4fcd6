"""The console in a real browser: a school clerk verifies and supplements with a real JPEG, the
county audits, publishes and pays, a parent looks the payment up — every step by clicking and
typing on the pages, each key page checked with axe and screenshotted (into docs/screenshots/
with AID_SCREENSHOTS=docs)."""

from __future__ import annotations

import csv
import io

import pytest

from aid_contracts import student_key
from aid_local import accounts, bank
from aid_local.flow import PROGRAMME_BY_STAGE, Clients, matched_ids, wait_for
from tests.e2e.browser import FLAGS, Person, chromium_path
from tests.e2e.schools import nth_school
from tests.images import jpeg

PERIOD = "2026-autumn"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def person(browser, running):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN", accept_downloads=True)
    yield Person(context.new_page(), running.platform.console_url)
    context.close()


@pytest.fixture(scope="module")
def school(result, province, running):
    """A school no other test uses (``tests/e2e/schools.py``); the demo accounts now name it and its county."""
    ids = matched_ids(province)
    code, count = nth_school(province, 2)
    assert code != result.school_code and count < 50, "every task on one page of the console (50 a page)"
    county, stage = province.schools[code]
    accounts.write(running.platform, accounts.demo_accounts(code, county))
    students = [s for s in province.students if s.school_code == code]
    matched = [s for s in students if s.id_number in ids]
    extra = next(s for s in students if s.id_number not in ids)  # the comparison missed this one: a supplement
    return {"code": code, "county": county, "stage": stage, "matched": matched, "extra": extra}


def test_a_school_a_county_and_a_parent_do_the_whole_flow_in_the_browser(person, school, running):
    api = Clients(running.platform)
    expected = len(school["matched"])
    page = person.page

    # the school clerk: the tasks arrive, all verified at once, one missed student supplemented
    person.sign_in("school")
    assert page.url.endswith("/school/tasks")
    wait_for("the school's tasks", lambda: person.reload_until(lambda: page.locator("tbody tr").count() >= expected))
    person.screenshot("school-tasks")
    person.accessible()
    page.get_by_label("全选").check()
    page.get_by_role("button", name="核对无误（选中）").click()
    assert f"成功 {expected}" in person.flash()

    person.open("/school/supplements/new")
    extra = school["extra"]
    page.get_by_label("姓名").fill(extra.name)
    page.get_by_label("身份证号").fill(extra.id_number)
    page.get_by_label("学段").select_option(school["stage"])
    page.get_by_label("类别").select_option("minimum_allowance")
    page.get_by_label("原因").fill("新申请低保家庭，比对名单未包含")
    page.get_by_label("证明材料 (JPG, ≤ 2 MB)").set_input_files(
        {"name": "低保证明.jpg", "mimeType": "image/jpeg", "buffer": jpeg((320, 240))})
    page.locator("#proof-preview").wait_for(state="visible")
    assert page.locator("#proof-preview").evaluate("img => img.naturalWidth") == 320  # the JPEG itself, previewed
    person.screenshot("school-supplement")
    person.accessible()
    page.get_by_role("button", name="保存").click()
    page.locator(".flash").wait_for()
    assert "补录已保存" in person.flash()
    assert "/school/tasks/S" in page.url  # the supplement's own task
    page.get_by_role("button", name="已核对未更新数据").click()
    person.open("/school/tasks")
    page.get_by_role("button", name="上报").click()
    assert f"成功 {expected + 1}" in person.flash()
    person.sign_out()

    # the county approves every submitted record
    person.sign_in("county")
    person.open("/bureau/audit")
    assert page.locator("tbody tr").count() == expected + 1
    person.screenshot("county-audit")
    person.accessible()
    page.get_by_label("全选").check()
    page.get_by_role("button", name="审核通过").click()
    assert f"成功 {expected + 1}" in person.flash()
    person.sign_out()

    # the school builds its aid list once publicity has every approved student, registers the cards, submits
    programme = PROGRAMME_BY_STAGE[school["stage"]]
    school_token = api.token("school", school_code=school["code"])
    wait_for("the approved students in publicity", lambda: api.call(
        "GET", "publicity", f"/lists/proposal?programme_code={programme}&period={PERIOD}",
        headers=school_token).json()["students"] >= expected + 1)
    person.sign_in("school")
    person.open("/school/lists")
    page.get_by_label("资助项目").select_option(programme)
    page.get_by_label("期次").fill(PERIOD)
    page.get_by_role("button", name="生成资助名单").click()
    page.wait_for_url("**/school/lists/L*")
    list_id = page.url.rsplit("/", 1)[1]
    assert page.locator("tbody tr").count() == expected + 1
    person.accessible()
    page.get_by_role("button", name="上报").click()
    assert "名单已上报" in person.flash()
    register_cards(person, [*school["matched"], extra])
    person.sign_out()

    # the county approves and publishes the list; the notice closes; the county pays through the bank
    person.sign_in("county")
    person.open(f"/bureau/lists/{list_id}")
    page.get_by_role("button", name="审核通过并公示").click()
    assert "公示" in person.flash()
    person.screenshot("county-list-published")
    person.open("/notices")  # as the public finds it: by the school's code
    page.get_by_label("学校代码").fill(school["code"])
    page.get_by_role("button", name="查询").click()
    page.get_by_role("link", name=page.locator(f"a[href='/notices/{list_id}']").inner_text()).click()
    page.wait_for_url(f"**/notices/{list_id}")
    assert page.locator("tbody tr").count() == expected + 1
    person.screenshot("public-notice")
    person.accessible()
    assert extra.id_number not in page.content() and extra.name not in page.content()  # masked for the public
    person.open("/bureau/payments")
    wait_for("the list's payments to be ready (notice closed)", lambda: person.reload_until(
        lambda: page.get_by_role("row").filter(has_text=list_id).count() == 1), timeout=120, every=1)
    page.get_by_role("row").filter(has_text=list_id).get_by_role("button", name="生成代发批次").click()
    assert "代发批次" in person.flash()
    with page.expect_download() as download:
        page.get_by_role("link", name="下载代发文件").first.click()
    payment_file = download.value.path().read_bytes()
    assert payment_file.count(b"\nD,") == expected + 1
    page.get_by_label("回盘文件").set_input_files(
        {"name": "return.csv", "mimeType": "text/csv", "buffer": bank.answer(payment_file, fail=set())})
    page.get_by_role("button", name="导入回盘并对账").click()
    page.locator("#reconciliation").wait_for()
    person.screenshot("county-payments")
    person.accessible()
    person.sign_out()

    # a parent looks the payment up, without signing in
    key = student_key(extra.id_number, running.platform.pseudonym_key().encode())
    province_token = api.token("province_bureau", region=school["code"][:2] + "0000")
    wait_for("the payment in query", lambda: any(a["status"] == "paid" for a in api.call(
        "GET", "query", f"/students/{key}/timeline", headers=province_token).json()["aid"]), timeout=120)
    person.open("/lookup")
    page.get_by_label("姓名").fill(extra.name)
    page.get_by_label("身份证号").fill(extra.id_number)
    page.get_by_label("学校代码").fill(school["code"])
    page.get_by_role("button", name="查询").click()
    result = page.locator("#lookup-result")
    assert "已发放" in result.inner_text()
    assert extra.id_number not in page.content()  # masked in the answer, not echoed in the form
    person.screenshot("public-lookup")
    person.accessible()


def register_cards(person: Person, students) -> None:
    """The school uploads its students' cards once disbursement has heard of their approval."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["身份证号", "开户银行", "银行卡号", "手机号"])
    writer.writerows([s.id_number, "ICBC", bank.card_for(s.id_number), ""] for s in students)

    def accepted_all() -> bool:
        person.open("/school/cards")
        person.page.get_by_label("银行卡文件 (CSV: 身份证号,开户银行,银行卡号,手机号)").set_input_files(
            {"name": "cards.csv", "mimeType": "text/csv", "buffer": out.getvalue().encode()})
        person.page.get_by_role("button", name="上传", exact=True).click()
        person.page.locator("#report").wait_for()
        return person.page.locator("#report dd").nth(1).inner_text().strip() == str(len(students))

    wait_for("disbursement to accept every card", accepted_all, every=1)
    person.screenshot("school-cards")


PAGES = {  # role → pages every account of it opens (after the flow above, so they hold data)
    "school": ["/school/tasks", "/school/tasks?audit_state=approved", "/school/lists", "/school/cards",
               f"/school/unfunded?period={PERIOD}", "/school/checks"],
    "county": ["/bureau/dashboard", "/bureau/dashboard?dimension=household", "/bureau/audit", "/bureau/repeated",
               "/bureau/lists", "/bureau/payments", "/bureau/views", "/bureau/views?view=elsewhere&dimension=household",
               "/bureau/reports/progress", "/bureau/reports/funding", f"/bureau/reports/unfunded?period={PERIOD}",
               "/bureau/reports/checks", "/bureau/audit-trail"],
    "city": ["/bureau/dashboard", "/bureau/audit", "/bureau/views", "/bureau/reports/progress"],
    "province": ["/bureau/dashboard", "/bureau/lists", "/bureau/views?view=key-groups", "/bureau/audit-trail"],
    "operator": ["/operator"],
    "department": ["/department/imports/new"],
}
SHOTS = {"/bureau/dashboard": "county-dashboard", "/bureau/views?view=elsewhere&dimension=household": "county-elsewhere",
         "/bureau/reports/progress": "county-report-progress", "/operator": "operator-health"}


@pytest.mark.parametrize("username", list(PAGES))
def test_every_page_of_every_role_opens_and_passes_the_accessibility_check(person, school, username):
    person.sign_in(username)
    for path in PAGES[username]:
        response = person.page.goto(person.base + path)
        assert response.status == 200, f"{username} {path}: {response.status} {person.page.inner_text('main')[:300]}"
        person.accessible()
        if username == "county" and path in SHOTS:
            person.screenshot(SHOTS[path])
    other = "/operator" if username != "operator" else "/school/tasks"
    assert person.page.goto(person.base + other).status == 403  # another role's page


def test_the_console_speaks_english_on_request(person, school):
    person.sign_in("county")
    person.page.get_by_role("link", name="English").click()
    person.open("/bureau/dashboard")
    assert person.page.locator("html").get_attribute("lang") == "en"
    assert person.page.get_by_role("heading", name="Progress").is_visible()
    person.page.get_by_role("link", name="中文").click()
    assert person.page.locator("html").get_attribute("lang") == "zh-CN"


def test_a_department_uploads_its_list_and_downloads_the_rejected_rows(person, province):
    """The department's list in force sent again with one malformed row: nothing changes but the
    row comes back with its reason, on the page and as a CSV to correct."""
    from aid_local.demo_data import DEPARTMENTS

    department = "poverty_office"
    assert department in DEPARTMENTS
    content = province.list_csv(department).rstrip(b"\n") + "\n110101199003071234,错误号码,registered_poor,110101,not_out,".encode()
    person.sign_in("department")
    page = person.page
    page.get_by_label("上传部门名单").set_input_files({"name": "扶贫办名单.csv", "mimeType": "text/csv", "buffer": content})
    page.get_by_role("button", name="上传", exact=True).click()
    page.locator("#report").wait_for()
    person.screenshot("department-import-report")
    person.accessible()
    facts = page.locator("#report dd").all_inner_texts()
    assert int(facts[0]) == int(facts[1]) + int(facts[2])  # read = accepted + rejected
    assert int(facts[2]) >= 1
    assert page.get_by_role("row").filter(has_text="110101199003071234").filter(has_text="bad_check_digit") \
        .filter(has_text="身份证号校验位错误").count() == 1  # its row, raw value, code and reason
    with page.expect_download() as download:
        page.get_by_role("link", name="下载退回数据 (CSV)").click()
    rejected = download.value.path().read_text(encoding="utf-8-sig")
    assert "110101199003071234" in rejected  # the department's own raw value, to correct


def test_the_public_pages_open_without_signing_in(person, school):
    for path in ("/lookup", "/notices", f"/notices?school_code={school['code']}", "/login"):
        response = person.page.goto(person.base + path)
        assert response.status == 200, path
        person.accessible()
    assert person.page.goto(person.base + "/bureau/dashboard").url.startswith(person.base + "/login?next=")
