-- prolific-etl schema for sqlite.
-- Generated from etl/store/schema.py by `prolific-etl db ddl`; do not edit by hand.
CREATE TABLE etl_runs (
	run_id INTEGER NOT NULL, 
	started_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	status VARCHAR(16) NOT NULL, 
	ids_read INTEGER NOT NULL, 
	fetched INTEGER NOT NULL, 
	inserted INTEGER NOT NULL, 
	updated INTEGER NOT NULL, 
	unchanged INTEGER NOT NULL, 
	failed INTEGER NOT NULL, 
	retries INTEGER NOT NULL, 
	tool_version VARCHAR(32) NOT NULL, 
	id_source TEXT, 
	error_message TEXT, 
	PRIMARY KEY (run_id), 
	CONSTRAINT ck_etl_runs_status CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'aborted'))
);

CREATE TABLE batches (
	batch_id VARCHAR(36) NOT NULL, 
	name TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	created_at DATETIME NOT NULL, 
	created_by VARCHAR(255) NOT NULL, 
	workspace_id VARCHAR(255) NOT NULL, 
	schema_version INTEGER NOT NULL, 
	total_task_count BIGINT NOT NULL, 
	total_instruction_count BIGINT NOT NULL, 
	total_task_groups BIGINT NOT NULL, 
	task_name TEXT NOT NULL, 
	task_introduction TEXT NOT NULL, 
	task_steps TEXT NOT NULL, 
	content_hash VARCHAR(64) NOT NULL, 
	first_seen_at DATETIME NOT NULL, 
	last_changed_at DATETIME NOT NULL, 
	first_seen_run_id INTEGER NOT NULL, 
	last_changed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (batch_id), 
	CONSTRAINT ck_batches_status CHECK (status IN ('UNINITIALISED', 'PROCESSING', 'READY', 'ERROR')), 
	FOREIGN KEY(first_seen_run_id) REFERENCES etl_runs (run_id), 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
);

CREATE INDEX ix_batches_status ON batches (status);

CREATE INDEX ix_batches_workspace_id ON batches (workspace_id);

CREATE TABLE datasets (
	dataset_id VARCHAR(36) NOT NULL, 
	filename TEXT NOT NULL, 
	total_datapoint_count BIGINT NOT NULL, 
	first_seen_at DATETIME NOT NULL, 
	last_changed_at DATETIME NOT NULL, 
	last_changed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (dataset_id), 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
);

CREATE TABLE etl_failures (
	failure_id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	batch_id VARCHAR(36), 
	input_line TEXT, 
	line_number INTEGER, 
	stage VARCHAR(16) NOT NULL, 
	http_status INTEGER, 
	error_kind VARCHAR(32) NOT NULL, 
	field TEXT, 
	message TEXT NOT NULL, 
	occurred_at DATETIME NOT NULL, 
	PRIMARY KEY (failure_id), 
	FOREIGN KEY(run_id) REFERENCES etl_runs (run_id)
);

CREATE INDEX ix_etl_failures_run_id ON etl_failures (run_id);

CREATE TABLE batch_last_seen (
	batch_id VARCHAR(36) NOT NULL, 
	last_seen_at DATETIME NOT NULL, 
	last_seen_run_id INTEGER NOT NULL, 
	PRIMARY KEY (batch_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(last_seen_run_id) REFERENCES etl_runs (run_id)
);

CREATE TABLE batch_datasets (
	batch_id VARCHAR(36) NOT NULL, 
	dataset_id VARCHAR(36) NOT NULL, 
	PRIMARY KEY (batch_id, dataset_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(dataset_id) REFERENCES datasets (dataset_id)
);

CREATE INDEX ix_batch_datasets_dataset_id ON batch_datasets (dataset_id);

CREATE TABLE batch_status_history (
	history_id INTEGER NOT NULL, 
	batch_id VARCHAR(36) NOT NULL, 
	old_status VARCHAR(16), 
	new_status VARCHAR(16) NOT NULL, 
	observed_at DATETIME NOT NULL, 
	run_id INTEGER NOT NULL, 
	PRIMARY KEY (history_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(run_id) REFERENCES etl_runs (run_id)
);

CREATE INDEX ix_batch_status_history_batch_id ON batch_status_history (batch_id, observed_at);
