-- prolific-etl schema for mysql.
-- Generated from etl/store/schema.py by `prolific-etl db ddl`; do not edit by hand.
CREATE TABLE etl_runs (
	run_id INTEGER NOT NULL COMMENT 'Sequential id of the run.' AUTO_INCREMENT, 
	started_at DATETIME(6) NOT NULL COMMENT 'When the run started (UTC).', 
	finished_at DATETIME(6) COMMENT 'When the run ended (UTC); NULL while running.', 
	status VARCHAR(16) NOT NULL COMMENT 'running, succeeded, partial (some batches failed), failed, aborted.', 
	ids_read INTEGER NOT NULL COMMENT 'Distinct valid batch IDs read from the ID file.', 
	fetched INTEGER NOT NULL COMMENT 'Batches fetched from the API with a 200.', 
	inserted INTEGER NOT NULL COMMENT 'Batches seen for the first time.', 
	updated INTEGER NOT NULL COMMENT 'Known batches whose content changed.', 
	unchanged INTEGER NOT NULL COMMENT 'Known batches whose content did not change.', 
	failed INTEGER NOT NULL COMMENT 'Rows written to etl_failures by this run (bad ID lines and failed batches).', 
	retries INTEGER NOT NULL COMMENT 'Requests retried after a 429, 5xx, timeout or dropped connection.', 
	tool_version VARCHAR(32) NOT NULL COMMENT 'prolific-etl version.', 
	id_source MEDIUMTEXT COMMENT 'The ID file the run read (<stdin> for standard input).', 
	error_message MEDIUMTEXT COMMENT 'Why the run failed, when it failed as a whole.', 
	PRIMARY KEY (run_id), 
	CONSTRAINT ck_etl_runs_status CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'aborted'))
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='One row per run of the job.' COLLATE utf8mb4_bin;

CREATE TABLE batches (
	batch_id VARCHAR(36) NOT NULL COMMENT 'Batch UUID (lower case).', 
	name MEDIUMTEXT NOT NULL COMMENT 'Batch name.', 
	status VARCHAR(16) NOT NULL COMMENT 'UNINITIALISED, PROCESSING, READY or ERROR.', 
	created_at DATETIME(6) NOT NULL COMMENT 'Creation time at Prolific (UTC).', 
	created_by VARCHAR(255) NOT NULL COMMENT 'User ID of the Prolific user who created the batch.', 
	workspace_id VARCHAR(255) NOT NULL COMMENT 'Prolific workspace ID.', 
	schema_version INTEGER NOT NULL COMMENT 'Batch schema version.', 
	total_task_count BIGINT NOT NULL COMMENT 'Tasks in the batch.', 
	total_instruction_count BIGINT NOT NULL COMMENT 'Instructions in the batch.', 
	total_task_groups BIGINT NOT NULL COMMENT 'Task groups in the batch.', 
	task_name MEDIUMTEXT NOT NULL COMMENT 'task_details.task_name.', 
	task_introduction MEDIUMTEXT NOT NULL COMMENT 'task_details.task_introduction: HTML, exactly as sent.', 
	task_steps MEDIUMTEXT NOT NULL COMMENT 'task_details.task_steps: HTML, exactly as sent.', 
	content_hash VARCHAR(64) NOT NULL COMMENT 'SHA-256 of the batch''s content; a sync rewrites the row only when it changes.', 
	first_seen_at DATETIME(6) NOT NULL COMMENT 'When a sync first stored the batch.', 
	last_changed_at DATETIME(6) NOT NULL COMMENT 'When a sync last stored a change to the batch.', 
	first_seen_run_id INTEGER NOT NULL COMMENT 'Run that first stored the batch.', 
	last_changed_run_id INTEGER NOT NULL COMMENT 'Run that last stored a change to the batch.', 
	PRIMARY KEY (batch_id), 
	CONSTRAINT ck_batches_status CHECK (status IN ('UNINITIALISED', 'PROCESSING', 'READY', 'ERROR')), 
	FOREIGN KEY(first_seen_run_id) REFERENCES etl_runs (run_id), 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='One row per AI Task Builder batch, with its task details.' COLLATE utf8mb4_bin;

CREATE INDEX ix_batches_status ON batches (status);

CREATE INDEX ix_batches_workspace_id ON batches (workspace_id);

CREATE TABLE datasets (
	dataset_id VARCHAR(36) NOT NULL COMMENT 'Dataset UUID (lower case).', 
	filename MEDIUMTEXT NOT NULL COMMENT 'File name of the dataset.', 
	total_datapoint_count BIGINT NOT NULL COMMENT 'Datapoints in the dataset.', 
	first_seen_at DATETIME(6) NOT NULL COMMENT 'When a sync first stored the dataset.', 
	last_changed_at DATETIME(6) NOT NULL COMMENT 'When a sync last stored a change to the dataset.', 
	last_changed_run_id INTEGER NOT NULL COMMENT 'Run that last stored a change to the dataset.', 
	PRIMARY KEY (dataset_id), 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='One row per dataset, however many batches use it.' COLLATE utf8mb4_bin;

CREATE TABLE etl_failures (
	failure_id INTEGER NOT NULL COMMENT 'Sequential id of the failure.' AUTO_INCREMENT, 
	run_id INTEGER NOT NULL COMMENT 'The run.', 
	batch_id VARCHAR(36) COMMENT 'The batch; NULL for a bad ID line.', 
	input_line MEDIUMTEXT COMMENT 'The bad ID line, as read (shortened).', 
	line_number INTEGER COMMENT 'Line number of the bad ID line.', 
	stage VARCHAR(16) NOT NULL COMMENT 'input, fetch, validate or load.', 
	http_status INTEGER COMMENT 'HTTP status of the last response, when there was one.', 
	error_kind VARCHAR(32) NOT NULL COMMENT 'Stable error name: bad_id_line, not_found, invalid_payload, ...', 
	field MEDIUMTEXT COMMENT 'The payload field that failed validation.', 
	message MEDIUMTEXT NOT NULL COMMENT 'What went wrong, for a person.', 
	occurred_at DATETIME(6) NOT NULL COMMENT 'When it happened (UTC).', 
	PRIMARY KEY (failure_id), 
	FOREIGN KEY(run_id) REFERENCES etl_runs (run_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='One row per batch or ID line that failed in a run.' COLLATE utf8mb4_bin;

CREATE INDEX ix_etl_failures_run_id ON etl_failures (run_id);

CREATE TABLE batch_last_seen (
	batch_id VARCHAR(36) NOT NULL COMMENT 'The batch.', 
	last_seen_at DATETIME(6) NOT NULL COMMENT 'When a sync last fetched it.', 
	last_seen_run_id INTEGER NOT NULL COMMENT 'Run that last fetched it.', 
	PRIMARY KEY (batch_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(last_seen_run_id) REFERENCES etl_runs (run_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='When each batch was last fetched. Kept apart from batches so that a nightly rerun over unchanged batches never rewrites (or sends change events for) their rows.' COLLATE utf8mb4_bin;

CREATE TABLE batch_datasets (
	batch_id VARCHAR(36) NOT NULL COMMENT 'The batch.', 
	dataset_id VARCHAR(36) NOT NULL COMMENT 'A dataset the batch lists now.', 
	PRIMARY KEY (batch_id, dataset_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(dataset_id) REFERENCES datasets (dataset_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='Which datasets each batch lists, as of its last sync.' COLLATE utf8mb4_bin;

CREATE INDEX ix_batch_datasets_dataset_id ON batch_datasets (dataset_id);

CREATE TABLE batch_status_history (
	history_id INTEGER NOT NULL COMMENT 'Sequential id of the observation.' AUTO_INCREMENT, 
	batch_id VARCHAR(36) NOT NULL COMMENT 'The batch.', 
	old_status VARCHAR(16) COMMENT 'Status before the change; NULL on the batch''s first observation.', 
	new_status VARCHAR(16) NOT NULL COMMENT 'Status the sync found.', 
	observed_at DATETIME(6) NOT NULL COMMENT 'When the sync stored the change (UTC); the batch changed at or before it.', 
	run_id INTEGER NOT NULL COMMENT 'Run that observed the change.', 
	PRIMARY KEY (history_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(run_id) REFERENCES etl_runs (run_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='One row each time a sync finds a batch''s status changed, and one when it first sees the batch. Nothing is written while the status stays the same.' COLLATE utf8mb4_bin;

CREATE INDEX ix_batch_status_history_batch_id ON batch_status_history (batch_id, observed_at);
