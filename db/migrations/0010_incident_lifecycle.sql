-- Incident lifecycle (issue 24), beside the investigation's own `status`: a person (or
-- Alertmanager, or the detector cycle when an incident's signals stay quiet) moves it
-- open -> acknowledged -> resolved, or snoozes it until a moment. A resolved incident
-- takes no new signals. `closed` in `status` was the alert-resolved state: it becomes
-- `state = resolved` (the `status` value stays readable for old rows).
ALTER TABLE incidents
    ADD COLUMN IF NOT EXISTS state ENUM('open','acknowledged','snoozed','resolved') NOT NULL DEFAULT 'open' AFTER status,
    ADD COLUMN IF NOT EXISTS acknowledged_at DATETIME(6) NULL,
    ADD COLUMN IF NOT EXISTS snoozed_until DATETIME(6) NULL,
    ADD COLUMN IF NOT EXISTS resolved_at DATETIME(6) NULL,
    ADD COLUMN IF NOT EXISTS resolved_by VARCHAR(64) NULL,
    ADD KEY IF NOT EXISTS ix_state (state, window_end);

UPDATE incidents SET state = 'resolved', resolved_by = 'alertmanager', resolved_at = updated_at
WHERE status = 'closed' AND state <> 'resolved';

-- which signals a report saw: a signal merged later than the report is what changed the picture
ALTER TABLE incident_reports ADD COLUMN IF NOT EXISTS last_signal_id BIGINT UNSIGNED NULL;
