"""disbursement: Payment to the student's card through the bank (统一办卡 集中支付)."""
