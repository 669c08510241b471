-- prolific-etl schema for sqlite.
-- Generated from etl/store/schema.py by `prolific-etl db ddl`; do not edit by hand.
CREATE TABLE etl_runs (
	run_id INTEGER NOT NULL, 
	started_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	status VARCHAR(16) NOT NULL, 
	ids_read INTEGER NOT NULL, 
	listed INTEGER DEFAULT '0' NOT NULL, 
	fetched INTEGER NOT NULL, 
	inserted INTEGER NOT NULL, 
	updated INTEGER NOT NULL, 
	unchanged INTEGER NOT NULL, 
	failed INTEGER NOT NULL, 
	responses_inserted INTEGER DEFAULT '0' NOT NULL, 
	responses_updated INTEGER DEFAULT '0' NOT NULL, 
	responses_unchanged INTEGER DEFAULT '0' NOT NULL, 
	studies_written INTEGER DEFAULT '0' NOT NULL, 
	studies_unchanged INTEGER DEFAULT '0' NOT NULL, 
	submissions_written INTEGER DEFAULT '0' NOT NULL, 
	submissions_unchanged INTEGER DEFAULT '0' NOT NULL, 
	responses_skipped INTEGER DEFAULT '0' NOT NULL, 
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
	status VARCHAR(64) NOT NULL, 
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
	batch_items JSON, 
	auto_sync_enabled BOOLEAN, 
	extra_fields JSON, 
	removed_upstream_at DATETIME, 
	content_hash VARCHAR(64) NOT NULL, 
	first_seen_at DATETIME NOT NULL, 
	last_changed_at DATETIME NOT NULL, 
	first_seen_run_id INTEGER NOT NULL, 
	last_changed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (batch_id), 
	FOREIGN KEY(first_seen_run_id) REFERENCES etl_runs (run_id), 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
);

CREATE INDEX ix_batches_status ON batches (status);

CREATE INDEX ix_batches_workspace_id ON batches (workspace_id);

CREATE TABLE datasets (
	dataset_id VARCHAR(36) NOT NULL, 
	filename TEXT NOT NULL, 
	total_datapoint_count BIGINT NOT NULL, 
	name TEXT, 
	created_at DATETIME, 
	created_by VARCHAR(255), 
	workspace_id VARCHAR(255), 
	schema_version VARCHAR(16), 
	status VARCHAR(64), 
	has_predetermined_grouping_id BOOLEAN, 
	field_schema JSON, 
	details_synced_at DATETIME, 
	details_run_id INTEGER, 
	first_seen_at DATETIME NOT NULL, 
	last_changed_at DATETIME NOT NULL, 
	last_changed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (dataset_id), 
	CONSTRAINT fk_datasets_details_run_id FOREIGN KEY(details_run_id) REFERENCES etl_runs (run_id), 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
);

CREATE TABLE etl_failures (
	failure_id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	batch_id VARCHAR(36), 
	workspace_id VARCHAR(255), 
	dataset_id VARCHAR(36), 
	response_id VARCHAR(36), 
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

CREATE TABLE workspaces (
	workspace_id VARCHAR(255) NOT NULL, 
	title TEXT NOT NULL, 
	description TEXT, 
	owner VARCHAR(255), 
	first_seen_at DATETIME NOT NULL, 
	last_changed_at DATETIME NOT NULL, 
	last_changed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (workspace_id), 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
);

CREATE TABLE batch_last_seen (
	batch_id VARCHAR(36) NOT NULL, 
	last_seen_at DATETIME NOT NULL, 
	last_seen_run_id INTEGER NOT NULL, 
	last_listed_at DATETIME, 
	last_listed_run_id INTEGER, 
	PRIMARY KEY (batch_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(last_seen_run_id) REFERENCES etl_runs (run_id), 
	CONSTRAINT fk_batch_last_seen_last_listed_run_id FOREIGN KEY(last_listed_run_id) REFERENCES etl_runs (run_id)
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
	old_status VARCHAR(64), 
	new_status VARCHAR(64) NOT NULL, 
	observed_at DATETIME NOT NULL, 
	run_id INTEGER NOT NULL, 
	PRIMARY KEY (history_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(run_id) REFERENCES etl_runs (run_id)
);

CREATE INDEX ix_batch_status_history_batch_id ON batch_status_history (batch_id, observed_at);

CREATE TABLE dataset_imports (
	import_id VARCHAR(36) NOT NULL, 
	dataset_id VARCHAR(36) NOT NULL, 
	type VARCHAR(64) NOT NULL, 
	filename TEXT, 
	status VARCHAR(64) NOT NULL, 
	accepted_count BIGINT, 
	rejected_count BIGINT, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	reason TEXT, 
	PRIMARY KEY (import_id), 
	FOREIGN KEY(dataset_id) REFERENCES datasets (dataset_id)
);

CREATE INDEX ix_dataset_imports_dataset_id ON dataset_imports (dataset_id);

CREATE TABLE responses (
	response_id VARCHAR(36) NOT NULL, 
	batch_id VARCHAR(36) NOT NULL, 
	task_id VARCHAR(255) NOT NULL, 
	participant_id VARCHAR(255) NOT NULL, 
	submission_id VARCHAR(255), 
	correlation_id VARCHAR(255), 
	instruction_id VARCHAR(255) NOT NULL, 
	response_type VARCHAR(64) NOT NULL, 
	created_at DATETIME NOT NULL, 
	schema_version INTEGER, 
	no_submission BOOLEAN, 
	metadata JSON, 
	answer JSON NOT NULL, 
	content_hash VARCHAR(64) NOT NULL, 
	removed_upstream_at DATETIME, 
	first_seen_at DATETIME NOT NULL, 
	last_changed_at DATETIME NOT NULL, 
	last_changed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (response_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
);

CREATE INDEX ix_responses_batch_id ON responses (batch_id, created_at);

CREATE INDEX ix_responses_batch_id_removed ON responses (batch_id, removed_upstream_at, created_at);

CREATE INDEX ix_responses_first_seen_at ON responses (first_seen_at);

CREATE INDEX ix_responses_last_changed_run_id ON responses (last_changed_run_id);

CREATE INDEX ix_responses_participant_id ON responses (participant_id);

CREATE TABLE studies (
	study_id VARCHAR(255) NOT NULL, 
	batch_id VARCHAR(36) NOT NULL, 
	project_id VARCHAR(255) NOT NULL, 
	workspace_id VARCHAR(255) NOT NULL, 
	name TEXT NOT NULL, 
	internal_name TEXT, 
	status VARCHAR(64) NOT NULL, 
	reward DOUBLE, 
	currency VARCHAR(16), 
	total_available_places BIGINT, 
	places_taken BIGINT, 
	number_of_submissions BIGINT, 
	estimated_completion_time DOUBLE, 
	maximum_allowed_time DOUBLE, 
	total_cost DOUBLE, 
	date_created DATETIME, 
	published_at DATETIME, 
	completed_at DATETIME, 
	content_hash VARCHAR(64) NOT NULL, 
	removed_upstream_at DATETIME, 
	first_seen_at DATETIME NOT NULL, 
	last_changed_at DATETIME NOT NULL, 
	last_changed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (study_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
);

CREATE INDEX ix_studies_batch_id ON studies (batch_id);

CREATE TABLE batch_responses_loaded (
	batch_id VARCHAR(36) NOT NULL, 
	loaded_at DATETIME NOT NULL, 
	run_id INTEGER NOT NULL, 
	PRIMARY KEY (batch_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(run_id) REFERENCES etl_runs (run_id)
);

CREATE TABLE label_agreement (
	batch_id VARCHAR(36) NOT NULL, 
	instruction_id VARCHAR(255) NOT NULL, 
	response_type VARCHAR(64), 
	level VARCHAR(16), 
	units INTEGER NOT NULL, 
	pairable_units INTEGER NOT NULL, 
	annotators INTEGER NOT NULL, 
	answers INTEGER NOT NULL, 
	pairable_values INTEGER NOT NULL, 
	percent_agreement DOUBLE, 
	krippendorff_alpha DOUBLE, 
	not_computed VARCHAR(32), 
	excluded_answers INTEGER NOT NULL, 
	superseded_answers INTEGER NOT NULL, 
	computed_at DATETIME NOT NULL, 
	computed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (batch_id, instruction_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(computed_run_id) REFERENCES etl_runs (run_id)
);

CREATE TABLE consensus_labels (
	batch_id VARCHAR(36) NOT NULL, 
	instruction_id VARCHAR(255) NOT NULL, 
	task_id VARCHAR(255) NOT NULL, 
	consensus TEXT, 
	votes INTEGER NOT NULL, 
	answers INTEGER NOT NULL, 
	support DOUBLE NOT NULL, 
	is_tie BOOLEAN NOT NULL, 
	tied_values JSON, 
	computed_at DATETIME NOT NULL, 
	computed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (batch_id, instruction_id, task_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(computed_run_id) REFERENCES etl_runs (run_id)
);

CREATE TABLE annotator_agreement (
	batch_id VARCHAR(36) NOT NULL, 
	instruction_id VARCHAR(255) NOT NULL, 
	participant_id VARCHAR(255) NOT NULL, 
	answers INTEGER NOT NULL, 
	compared INTEGER NOT NULL, 
	agreed INTEGER NOT NULL, 
	agreement DOUBLE, 
	computed_at DATETIME NOT NULL, 
	computed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (batch_id, instruction_id, participant_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(computed_run_id) REFERENCES etl_runs (run_id)
);

CREATE TABLE response_answers (
	response_id VARCHAR(36) NOT NULL, 
	position INTEGER NOT NULL, 
	value_text TEXT, 
	value_number DOUBLE, 
	value_boolean BOOLEAN, 
	unit TEXT, 
	explanation TEXT, 
	file_name TEXT, 
	file_key TEXT, 
	file_size_mb DOUBLE, 
	content_type VARCHAR(255), 
	PRIMARY KEY (response_id, position), 
	FOREIGN KEY(response_id) REFERENCES responses (response_id) ON DELETE CASCADE
);

CREATE TABLE submissions (
	submission_id VARCHAR(255) NOT NULL, 
	study_id VARCHAR(255) NOT NULL, 
	participant_id VARCHAR(255) NOT NULL, 
	status VARCHAR(64) NOT NULL, 
	started_at DATETIME, 
	completed_at DATETIME, 
	time_taken DOUBLE, 
	reward DOUBLE, 
	is_complete BOOLEAN, 
	study_code TEXT, 
	star_awarded BOOLEAN, 
	bonus_total DOUBLE, 
	return_requested DATETIME, 
	demographics JSON, 
	content_hash VARCHAR(64) NOT NULL, 
	removed_upstream_at DATETIME, 
	first_seen_at DATETIME NOT NULL, 
	last_changed_at DATETIME NOT NULL, 
	last_changed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (submission_id), 
	FOREIGN KEY(study_id) REFERENCES studies (study_id) ON DELETE CASCADE, 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
);

CREATE INDEX ix_submissions_participant_id ON submissions (participant_id);

CREATE INDEX ix_submissions_study_id ON submissions (study_id);

CREATE TABLE study_costs (
	study_id VARCHAR(255) NOT NULL, 
	rewards DOUBLE, 
	reward_fees DOUBLE, 
	reward_tax DOUBLE, 
	bonuses DOUBLE, 
	bonus_fees DOUBLE, 
	bonus_tax DOUBLE, 
	currency VARCHAR(16), 
	content_hash VARCHAR(64) NOT NULL, 
	first_seen_at DATETIME NOT NULL, 
	last_changed_at DATETIME NOT NULL, 
	last_changed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (study_id), 
	FOREIGN KEY(study_id) REFERENCES studies (study_id) ON DELETE CASCADE, 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
);

CREATE TABLE submission_status_history (
	history_id INTEGER NOT NULL, 
	submission_id VARCHAR(255) NOT NULL, 
	old_status VARCHAR(64), 
	new_status VARCHAR(64) NOT NULL, 
	observed_at DATETIME NOT NULL, 
	run_id INTEGER NOT NULL, 
	PRIMARY KEY (history_id), 
	FOREIGN KEY(submission_id) REFERENCES submissions (submission_id) ON DELETE CASCADE, 
	FOREIGN KEY(run_id) REFERENCES etl_runs (run_id)
);

CREATE INDEX ix_submission_status_history_submission_id ON submission_status_history (submission_id, observed_at);

CREATE TABLE study_submission_counts (
	study_id VARCHAR(255) NOT NULL, 
	status VARCHAR(64) NOT NULL, 
	submissions BIGINT NOT NULL, 
	PRIMARY KEY (study_id, status), 
	FOREIGN KEY(study_id) REFERENCES study_costs (study_id) ON DELETE CASCADE
);
