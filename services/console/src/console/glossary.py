"""The console's one glossary: every word a page shows, in Chinese (default) and English.

Domain words are those of ``docs/glossary.md`` (a test checks that the Chinese terms agree);
page words are here alone. ``t(key, lang)`` falls back to the key itself, so a missing entry
shows up on the page instead of failing it (a test lists the keys the templates use)."""

from __future__ import annotations

LANGS = ("zh", "en")

DOMAIN = {  # code → (中文, English), the words officials use
    # roles
    "province_bureau": ("省级资助中心", "Provincial aid centre"), "city_bureau": ("市级教育部门", "City bureau"),
    "county_bureau": ("县级教育部门", "County bureau"), "school": ("学校", "School"),
    "department": ("部门数据推送", "Department feed"), "operator": ("运维", "Operator"),
    # departments
    "poverty_office": ("扶贫办 (乡村振兴局)", "Poverty alleviation office"), "civil_affairs": ("民政", "Civil affairs"),
    "disabled_federation": ("残联", "Disabled persons' federation"), "trade_union": ("总工会", "Trade union"),
    # categories
    "registered_poor": ("建档立卡", "Registered poor"), "minimum_allowance": ("城乡低保", "Minimum living allowance"),
    "extreme_poverty": ("特困救助供养", "Extreme-poverty support"), "orphan": ("孤儿", "Orphan"),
    "disabled": ("残疾", "Disabled"), "needy_worker_family": ("困难职工家庭", "Needy worker family"),
    # stages
    "preschool": ("学前", "Preschool"), "primary": ("小学", "Primary"), "junior": ("初中", "Junior secondary"),
    "senior": ("高中", "Senior secondary"), "vocational": ("中职", "Vocational"), "higher": ("高等教育", "Higher education"),
    # verification
    "pending": ("待核对", "To verify"), "verified_unchanged": ("已核对未更新数据", "Verified, unchanged"),
    "verified_updated": ("已核对更新了部分数据", "Verified with updates"), "invalid": ("无效数据", "Invalid"),
    "unsubmitted": ("未上报", "Not submitted"), "submitted": ("已上报待审核", "Submitted, awaiting audit"),
    "approved": ("审核通过", "Approved"), "returned": ("审核退回", "Returned"),
    "not_at_school": ("不在本校就读", "Not at this school"), "duplicate": ("重复数据", "Duplicate"),
    "transferred": ("已转学", "Transferred"), "graduated": ("已毕业", "Graduated"), "deceased": ("已死亡", "Deceased"),
    "other": ("其他", "Other"),
    # lists and payments
    "draft": ("草稿", "Draft"), "published": ("公示中", "Under public notice"), "final": ("公示结束", "Final"),
    "removed": ("已移出名单", "Taken off the list"),
    "ready": ("待发放", "Ready to pay"), "sent": ("已发送银行", "Sent to the bank"), "paid": ("已发放", "Paid"),
    "failed": ("发放失败", "Failed"), "in_batch": ("已生成代发批次", "In a batch"),
    "reconciled": ("已对账", "Reconciled"), "exported": ("已导出代发文件", "File exported"),
    "stopped": ("对账不符已暂停", "Stopped: reconciliation mismatch"),
    "matched": ("比对在册", "Matched"), "withdrawn": ("比对已撤销", "Match withdrawn"),
    # unfunded reasons (未资助原因) and abnormal-record answers (核查反馈)
    "not_enrolled_anymore": ("已不在校", "No longer enrolled"), "funded_elsewhere": ("已在其他学校/项目资助", "Funded elsewhere"),
    "family_declined": ("家庭放弃", "Family declined"), "not_eligible_stage": ("学段无对应资助项目", "No programme for the stage"),
    "confirmed_correct": ("核实无误", "Confirmed correct"), "corrected": ("已更正", "Corrected"),
    "wrongly_funded": ("不应资助，已处理", "Should not have been funded; dealt with"),
    "objection_open": ("待处理", "Open"), "objection_upheld": ("异议成立", "Upheld"), "objection_dismissed": ("驳回", "Dismissed"),
    "entry_in": ("在册", "On the list"), "entry_removed": ("已移出", "Taken off"),
    "entry_objection_upheld": ("异议成立", "Objection upheld"), "entry_ineligible": ("不再符合条件", "No longer eligible"),
}

PAGE = {
    "app_name": ("精准资助管理平台", "Precision student aid"),
    "skip_to_content": ("跳到正文", "Skip to content"),
    "sign_in": ("登录", "Sign in"), "sign_in_provider": ("统一身份认证登录", "Sign in with the identity provider"), "sign_out": ("退出", "Sign out"), "username": ("用户名", "User name"),
    "password": ("密码", "Password"), "dev_sign_in_note": ("本地开发登录：演示账号由 make run 给出，生产环境使用统一身份认证。",
                                                    "Local dev sign-in: make run prints the demo accounts; production signs in through the identity provider."),
    "bad_sign_in": ("用户名或密码错误", "Wrong user name or password"),
    "demo_accounts": ("演示账号", "Demo accounts"),
    "language": ("English", "中文"),
    "home": ("首页", "Home"), "tasks": ("核对任务", "Verification tasks"), "verify": ("核对", "Verify"),
    "verify_selected": ("核对无误（选中）", "Verified, unchanged (selected)"),
    "mark_invalid": ("标为无效（选中）", "Mark invalid (selected)"), "invalid_reason": ("无效原因", "Reason it is invalid"),
    "invalid_text": ("说明", "Explanation"), "submit_for_audit": ("上报", "Submit for audit"),
    "supplement": ("补录", "Supplementary record"), "proof": ("证明材料 (JPG, ≤ 2 MB)", "Proof (JPG, ≤ 2 MB)"),
    "preview": ("预览", "Preview"), "reason": ("原因", "Reason"),
    "audit": ("审核", "Audit"), "approve": ("审核通过", "Approve"), "return": ("退回", "Return"),
    "return_reason": ("退回原因", "Reason for returning"),
    "aid_lists": ("资助名单", "Aid lists"), "build_list": ("生成资助名单", "Build the aid list"),
    "programme": ("资助项目", "Aid programme"), "period": ("期次", "Period"), "students": ("学生数", "Students"),
    "amount": ("金额 (元)", "Amount (yuan)"), "state": ("状态", "State"), "list": ("名单", "List"),
    "approve_publish": ("审核通过并公示", "Approve and publish"), "notice": ("公示", "Public notice"),
    "cards": ("银行卡登记", "Bank cards"), "card_file": ("银行卡文件 (CSV: 身份证号,开户银行,银行卡号,手机号)",
                                                    "Card file (CSV: ID number, bank, card number, phone)"),
    "upload": ("上传", "Upload"), "payments": ("资金发放", "Payments"), "batches": ("代发批次", "Payment batches"),
    "create_batch": ("生成代发批次", "Create a payment batch"), "download_file": ("下载代发文件", "Download the payment file"),
    "return_file": ("回盘文件", "Bank return file"), "reconcile": ("导入回盘并对账", "Import and reconcile"),
    "lookup": ("个人资助查询", "Personal aid lookup"), "name": ("姓名", "Name"), "id_number": ("身份证号", "ID number"),
    "school_code": ("学校代码", "School code"), "query": ("查询", "Look up"), "no_record": ("未查到资助记录", "No aid record found"),
    "payment_date": ("发放日期", "Payment date"), "status": ("状态", "Status"),
    "objection": ("投诉举报", "Object"), "contact": ("联系方式", "Contact"), "objection_text": ("异议内容", "Objection"),
    "import_list": ("上传部门名单", "Upload a department list"), "import_report": ("导入结果", "Import report"),
    "rows_read": ("读取行数", "Rows read"), "accepted": ("成功", "Accepted"), "rejected": ("退回", "Rejected"),
    "row": ("行号", "Row"), "raw_value": ("原始值", "Value as sent"), "reason_code": ("原因代码", "Reason code"),
    "first_200": ("仅显示前 200 行，完整内容请下载", "the first 200 rows; download them all"), "field": ("字段", "Field"), "download_rejections": ("下载退回数据 (CSV)", "Download rejected rows (CSV)"),
    "published_n": ("已公示", "Published"), "dashboard": ("工作进度", "Progress"), "dimension": ("统计口径", "Dimension"),
    "by_enrolment": ("按学籍所在地", "By enrolment location"), "by_household": ("按户籍所在地", "By household registration"),
    "region": ("地区", "Region"), "matched": ("比对", "Matched"), "verified": ("已核对", "Verified"),
    "completion": ("完成率", "Completion"), "health": ("服务状态", "Service health"), "ready_yes": ("正常", "Ready"),
    "ready_no": ("异常", "Not ready"), "service": ("服务", "Service"), "actions": ("操作", "Actions"),
    "select_all": ("全选", "Select all"), "select": ("选择", "Select"), "filter": ("筛选", "Filter"), "all": ("全部", "All"),
    "total": ("合计", "Total"), "no_items": ("暂无数据", "Nothing here"), "done": ("已完成", "Done"),
    "error": ("操作未完成", "Not done"), "page_failed": ("页面出错，已记录，请稍后再试", "The page failed; it is logged: try again later"), "forbidden": ("无权访问此页面", "You may not open this page"),
    "working": ("正在处理，请稍候…", "Working, please wait…"), "results": ("处理结果", "Results"),
    "ok": ("成功", "OK"), "refused": ("未通过", "Refused"), "categories": ("类别", "Categories"),
    "audit_state": ("审核状态", "Audit state"), "history": ("操作记录", "History"), "corrections": ("更新学籍信息", "Update the record"),
    "verify_with_updates": ("核对并更新", "Verify with updates"), "save": ("保存", "Save"), "back": ("返回", "Back"),
    "public_notice_lists": ("公示名单", "Public notices"), "notice_until": ("公示截止", "Notice ends"),
    "objections": ("异议", "Objections"), "phone": ("手机号", "Phone"), "bank": ("开户银行", "Bank"),
    "card_number": ("银行卡号", "Card number"), "register_card": ("登记银行卡", "Register a card"),
    "batch": ("批次", "Batch"), "reconciliation": ("对账结果", "Reconciliation"),
    "department_upload_note": ("支持 CSV 或 XLSX，UTF-8 或 GBK 编码，中文或英文表头。", "CSV or XLSX, UTF-8 or GBK, Chinese or English headers."),
    "returned_items": ("退回的记录", "Returned records"), "page_n": ("第 {n} 页", "Page {n}"),
    "next_page": ("下一页", "Next page"), "prev_page": ("上一页", "Previous page"),
    "stage": ("学段", "Stage"), "category": ("类别", "Category"), "poverty_status": ("脱贫状态", "Poverty status"),
    "exit_year": ("脱贫年份", "Exit year"), "household_region": ("户籍所在地", "Household region"),
    "enrolment_region": ("学籍所在地", "Enrolment region"), "not_out": ("未脱贫", "Not out"), "out": ("已脱贫", "Out"),
    "back_in": ("返贫", "Back in"), "open_notice": ("查看公示", "View the notice"), "operator_home": ("运维监控", "Operations"),
    "consumer_lag": ("消费积压", "Consumer lag"), "views": ("查询", "Views"), "drill_down": ("逐级查看", "Drill down"),
    "name_mismatch": ("姓名不一致", "Name differs"), "reports": ("统计报表", "Reports"),
    "report_progress": ("资助工作进度", "Progress"), "report_funding": ("资助资金发放", "Funding"),
    "report_unfunded": ("未资助原因", "Unfunded reasons"), "report_checks": ("异常数据核查汇总", "Abnormal-record checks"),
    "trend": ("趋势", "Trend"), "audit_trail": ("审计日志", "Audit trail"), "actor": ("操作人", "Who"),
    "action": ("操作", "Action"), "target": ("对象", "Record"), "since": ("开始日期", "From"), "until": ("结束日期", "To"),
    "unfunded": ("未资助原因上报", "Unfunded reasons"), "abnormal_checks": ("数据核查", "Abnormal-record checks"),
    "record": ("记录", "Record"), "answer": ("核查结果", "Answer"), "repeated_checks": ("重复学生核查", "Repeated students"),
    "open_checks": ("待核查", "Open"), "resolved_checks": ("已处理", "Resolved"), "keep_this": ("保留此记录", "Keep this record"),
    "uphold": ("异议成立", "Uphold"), "dismiss": ("驳回", "Dismiss"), "dead_letters": ("死信", "Dead letters"),
    "outbox_backlog": ("待发布事件", "Events waiting in the outbox"), "group": ("消费组", "Consumer group"),
    "topic": ("主题", "Topic"), "recent_traces": ("最近的调用链", "Recent traces"), "trace_id": ("追踪号", "Trace id"),
    "trace_hint": ("查看一条调用链的每一步：", "Every step of one trace:"), "notices_of_school": ("学校公示名单", "A school's public notices"), "refresh_note": ("每 5 秒自动刷新", "Refreshes every 5 seconds"),
}

RECONCILIATION = {  # the fields of disbursement's reconciliation report (对账结果)
    "rec_batch_id": ("代发批次", "Batch"), "rec_status": ("状态", "State"), "rec_lines": ("回盘行数", "Lines returned"),
    "rec_paid": ("发放成功", "Paid"), "rec_failed": ("发放失败", "Failed"), "rec_already_applied": ("此前已导入", "Imported before"),
    "rec_duplicate_lines": ("重复行", "Repeated lines"), "rec_still_open": ("尚未回盘", "Still without an answer"),
    "rec_code": ("代码", "Code"), "rec_message": ("说明", "Explanation"), "rec_stopped": ("已暂停", "Stopped"),
}

BANKS = {  # the banks disbursement writes files for
    "bank_ICBC": ("中国工商银行", "ICBC"), "bank_ABC": ("中国农业银行", "Agricultural Bank of China"),
    "bank_BOC": ("中国银行", "Bank of China"), "bank_CCB": ("中国建设银行", "China Construction Bank"),
    "bank_BOCOM": ("交通银行", "Bank of Communications"), "bank_PSBC": ("中国邮政储蓄银行", "Postal Savings Bank"),
    "bank_RCC": ("农村信用社", "Rural credit cooperative"),
}

TERMS: dict[str, tuple[str, str]] = {**DOMAIN, **PAGE, **RECONCILIATION, **BANKS}


def t(key: str | None, lang: str = "zh", **fields) -> str:
    """The word for ``key`` in ``lang``; ``fields`` fill ``{placeholders}``."""
    if key is None:
        return ""
    pair = TERMS.get(key)
    text = pair[LANGS.index(lang) if lang in LANGS else 0] if pair else key
    return text.format(**fields) if fields else text
