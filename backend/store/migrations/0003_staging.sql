-- Simulated staging. A STAGING build knows when it finishes (finish_at, unix
-- milliseconds) and what it then yields (outcome: the JSON of a
-- store.StagingOutcome, decided when the build is created). Its end is
-- therefore a function of the clock alone: it happens on the first read after
-- finish_at, or from a timer, and survives a restart. Both columns are NULL
-- once the build is final.
ALTER TABLE builds ADD COLUMN finish_at INTEGER;
ALTER TABLE builds ADD COLUMN outcome TEXT;
CREATE INDEX builds_finish ON builds (finish_at) WHERE finish_at IS NOT NULL;
CREATE INDEX builds_app_state ON builds (app_guid, state);
