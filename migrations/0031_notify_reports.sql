-- 0031_notify_reports: the periodic status report per recipient
-- (rules/notify_report.h). last_period names the last report sent ("D" +
-- local date for daily, "W" + local date of the report day for weekly); the
-- sender locks the row while it sends, so a restart or a second instance
-- never sends one period twice.
CREATE TABLE notify_reports (
    target      text PRIMARY KEY,
    last_period text NOT NULL DEFAULT '',
    sent_ms     bigint
);
