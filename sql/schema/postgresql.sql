-- prolific-etl schema for postgresql.
-- Generated from etl/store/schema.py by `prolific-etl db ddl`; do not edit by hand.
CREATE TABLE etl_runs (
	run_id SERIAL NOT NULL, 
	started_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	finished_at TIMESTAMP WITH TIME ZONE, 
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

COMMENT ON TABLE etl_runs IS 'One row per run of the job.';

COMMENT ON COLUMN etl_runs.run_id IS 'Sequential id of the run.';

COMMENT ON COLUMN etl_runs.started_at IS 'When the run started (UTC).';

COMMENT ON COLUMN etl_runs.finished_at IS 'When the run ended (UTC); NULL while running.';

COMMENT ON COLUMN etl_runs.status IS 'running, succeeded, partial (some batches failed), failed, aborted.';

COMMENT ON COLUMN etl_runs.ids_read IS 'Distinct valid batch IDs read from the ID file.';

COMMENT ON COLUMN etl_runs.listed IS 'Batches found in workspace listings (--workspace, --all-workspaces) and not in the ID file: ids_read + listed is every batch the run took on.';

COMMENT ON COLUMN etl_runs.fetched IS 'Batches fetched from the API with a 200.';

COMMENT ON COLUMN etl_runs.inserted IS 'Batches seen for the first time.';

COMMENT ON COLUMN etl_runs.updated IS 'Known batches whose content changed.';

COMMENT ON COLUMN etl_runs.unchanged IS 'Known batches whose content did not change.';

COMMENT ON COLUMN etl_runs.failed IS 'Rows written to etl_failures by this run (bad ID lines and failed batches).';

COMMENT ON COLUMN etl_runs.responses_inserted IS 'Responses seen for the first time (sync --responses).';

COMMENT ON COLUMN etl_runs.responses_updated IS 'Known responses whose content changed.';

COMMENT ON COLUMN etl_runs.responses_unchanged IS 'Known responses whose content did not change.';

COMMENT ON COLUMN etl_runs.studies_written IS 'Studies stored for the first time or changed upstream (sync --submissions).';

COMMENT ON COLUMN etl_runs.studies_unchanged IS 'Studies fetched again and found as stored.';

COMMENT ON COLUMN etl_runs.submissions_written IS 'Submissions stored for the first time or changed upstream.';

COMMENT ON COLUMN etl_runs.submissions_unchanged IS 'Submissions fetched again and found as stored.';

COMMENT ON COLUMN etl_runs.responses_skipped IS 'Batches whose responses were not downloaded: their studies are complete and their responses were loaded whole since (sync --responses --submissions).';

COMMENT ON COLUMN etl_runs.retries IS 'Requests retried after a 429, 5xx, timeout or dropped connection.';

COMMENT ON COLUMN etl_runs.tool_version IS 'prolific-etl version.';

COMMENT ON COLUMN etl_runs.id_source IS 'Where the batch IDs came from: the ID file (<stdin> for standard input) and the workspaces listed, separated by ''; ''.';

COMMENT ON COLUMN etl_runs.error_message IS 'Why the run failed, when it failed as a whole.';

CREATE TABLE batches (
	batch_id VARCHAR(36) NOT NULL, 
	name TEXT NOT NULL, 
	status VARCHAR(64) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	created_by VARCHAR(255) NOT NULL, 
	workspace_id VARCHAR(255) NOT NULL, 
	schema_version INTEGER NOT NULL, 
	total_task_count BIGINT NOT NULL, 
	total_instruction_count BIGINT NOT NULL, 
	total_task_groups BIGINT NOT NULL, 
	task_name TEXT NOT NULL, 
	task_introduction TEXT NOT NULL, 
	task_steps TEXT NOT NULL, 
	batch_items JSONB, 
	auto_sync_enabled BOOLEAN, 
	extra_fields JSONB, 
	removed_upstream_at TIMESTAMP WITH TIME ZONE, 
	content_hash VARCHAR(64) NOT NULL, 
	first_seen_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_changed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	first_seen_run_id INTEGER NOT NULL, 
	last_changed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (batch_id), 
	FOREIGN KEY(first_seen_run_id) REFERENCES etl_runs (run_id), 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
);

CREATE INDEX ix_batches_status ON batches (status);

CREATE INDEX ix_batches_workspace_id ON batches (workspace_id);

COMMENT ON TABLE batches IS 'One row per AI Task Builder batch, with its task details.';

COMMENT ON COLUMN batches.batch_id IS 'Batch UUID (lower case).';

COMMENT ON COLUMN batches.name IS 'Batch name.';

COMMENT ON COLUMN batches.status IS 'As sent: UNINITIALISED, PROCESSING, READY or ERROR today; open to new values.';

COMMENT ON COLUMN batches.created_at IS 'Creation time at Prolific (UTC).';

COMMENT ON COLUMN batches.created_by IS 'User ID of the Prolific user who created the batch.';

COMMENT ON COLUMN batches.workspace_id IS 'Prolific workspace ID.';

COMMENT ON COLUMN batches.schema_version IS 'Batch schema version.';

COMMENT ON COLUMN batches.total_task_count IS 'Tasks in the batch.';

COMMENT ON COLUMN batches.total_instruction_count IS 'Instructions in the batch.';

COMMENT ON COLUMN batches.total_task_groups IS 'Task groups in the batch.';

COMMENT ON COLUMN batches.task_name IS 'task_details.task_name.';

COMMENT ON COLUMN batches.task_introduction IS 'task_details.task_introduction: HTML, exactly as sent.';

COMMENT ON COLUMN batches.task_steps IS 'task_details.task_steps: HTML, exactly as sent.';

COMMENT ON COLUMN batches.batch_items IS 'The batch''s instruction layout (pages, rows, columns, items) as sent; NULL for batches without one.';

COMMENT ON COLUMN batches.auto_sync_enabled IS 'Whether new datapoints of its dataset become tasks by themselves; NULL when the API leaves it out (off).';

COMMENT ON COLUMN batches.extra_fields IS 'Top-level fields the API sent that the spec does not list, as a JSON object; NULL when there were none.';

COMMENT ON COLUMN batches.removed_upstream_at IS 'When a sync found the batch gone from the listing of its workspace that used to hold it (UTC); NULL while it is listed, or was never read from a listing. Never deleted.';

COMMENT ON COLUMN batches.content_hash IS 'SHA-256 of the batch''s content; a sync rewrites the row only when it changes.';

COMMENT ON COLUMN batches.first_seen_at IS 'When a sync first stored the batch.';

COMMENT ON COLUMN batches.last_changed_at IS 'When a sync last stored a change to the batch.';

COMMENT ON COLUMN batches.first_seen_run_id IS 'Run that first stored the batch.';

COMMENT ON COLUMN batches.last_changed_run_id IS 'Run that last stored a change to the batch.';

CREATE TABLE datasets (
	dataset_id VARCHAR(36) NOT NULL, 
	filename TEXT NOT NULL, 
	total_datapoint_count BIGINT NOT NULL, 
	name TEXT, 
	created_at TIMESTAMP WITH TIME ZONE, 
	created_by VARCHAR(255), 
	workspace_id VARCHAR(255), 
	schema_version VARCHAR(16), 
	status VARCHAR(64), 
	has_predetermined_grouping_id BOOLEAN, 
	field_schema JSONB, 
	details_synced_at TIMESTAMP WITH TIME ZONE, 
	details_run_id INTEGER, 
	first_seen_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_changed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_changed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (dataset_id), 
	CONSTRAINT fk_datasets_details_run_id FOREIGN KEY(details_run_id) REFERENCES etl_runs (run_id), 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
);

COMMENT ON TABLE datasets IS 'One row per dataset, however many batches use it.';

COMMENT ON COLUMN datasets.dataset_id IS 'Dataset UUID (lower case).';

COMMENT ON COLUMN datasets.filename IS 'File name of the dataset.';

COMMENT ON COLUMN datasets.total_datapoint_count IS 'Datapoints in the dataset.';

COMMENT ON COLUMN datasets.name IS 'Dataset name (from its details; NULL until fetched).';

COMMENT ON COLUMN datasets.created_at IS 'Creation time at Prolific (UTC), from its details.';

COMMENT ON COLUMN datasets.created_by IS 'User ID of its creator, from its details.';

COMMENT ON COLUMN datasets.workspace_id IS 'Its workspace, from its details.';

COMMENT ON COLUMN datasets.schema_version IS 'Dataset version: 3 (CSV/ZIP upload) or 4 (field schema and import jobs).';

COMMENT ON COLUMN datasets.status IS 'Processing status of a version 3 dataset, as sent; NULL for version 4 (see dataset_imports).';

COMMENT ON COLUMN datasets.has_predetermined_grouping_id IS 'Version 3: whether it has a META_TASK_GROUP_ID column.';

COMMENT ON COLUMN datasets.field_schema IS 'Version 4: the researcher-defined field schema (the API''s ''schema'') as sent.';

COMMENT ON COLUMN datasets.details_synced_at IS 'When its details were last stored; NULL when they are due (new, changed, or the last fetch failed). A dataset still in flight (a status or import job not settled) is asked again every run and stored when it moved.';

COMMENT ON COLUMN datasets.details_run_id IS 'Run that last fetched its details.';

COMMENT ON COLUMN datasets.first_seen_at IS 'When a sync first stored the dataset.';

COMMENT ON COLUMN datasets.last_changed_at IS 'When a sync last stored a change to the dataset.';

COMMENT ON COLUMN datasets.last_changed_run_id IS 'Run that last stored a change to the dataset.';

CREATE TABLE etl_failures (
	failure_id SERIAL NOT NULL, 
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
	occurred_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (failure_id), 
	FOREIGN KEY(run_id) REFERENCES etl_runs (run_id)
);

CREATE INDEX ix_etl_failures_run_id ON etl_failures (run_id);

COMMENT ON TABLE etl_failures IS 'One row per batch or ID line that failed in a run.';

COMMENT ON COLUMN etl_failures.failure_id IS 'Sequential id of the failure.';

COMMENT ON COLUMN etl_failures.run_id IS 'The run.';

COMMENT ON COLUMN etl_failures.batch_id IS 'The batch; NULL for a bad ID line, a workspace''s listing or a dataset.';

COMMENT ON COLUMN etl_failures.workspace_id IS 'The workspace whose listing failed, or that listed the failed batch.';

COMMENT ON COLUMN etl_failures.dataset_id IS 'The dataset whose details could not be fetched.';

COMMENT ON COLUMN etl_failures.response_id IS 'The response that failed validation.';

COMMENT ON COLUMN etl_failures.input_line IS 'The bad ID line, as read (shortened).';

COMMENT ON COLUMN etl_failures.line_number IS 'Line number of the bad ID line.';

COMMENT ON COLUMN etl_failures.stage IS 'input (an ID line), listing (the workspaces, a workspace''s batch listing), fetch, validate, load, dataset (a dataset''s details), responses, studies (a workspace''s projects and studies, a study), submissions or costs (a study''s).';

COMMENT ON COLUMN etl_failures.http_status IS 'HTTP status of the last response, when there was one.';

COMMENT ON COLUMN etl_failures.error_kind IS 'Stable error name: bad_id_line, not_found, invalid_payload, ...';

COMMENT ON COLUMN etl_failures.field IS 'The payload field that failed validation (results[3].id), or the column whose value could not be stored (batches.extra_fields).';

COMMENT ON COLUMN etl_failures.message IS 'What went wrong, for a person.';

COMMENT ON COLUMN etl_failures.occurred_at IS 'When it happened (UTC).';

CREATE TABLE workspaces (
	workspace_id VARCHAR(255) NOT NULL, 
	title TEXT NOT NULL, 
	description TEXT, 
	owner VARCHAR(255), 
	first_seen_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_changed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_changed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (workspace_id), 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
);

COMMENT ON TABLE workspaces IS 'One row per workspace a sync with --workspace or --all-workspaces saw. batches.workspace_id refers to it, without a foreign key: a batch read from an ID file may belong to a workspace no sync has listed.';

COMMENT ON COLUMN workspaces.workspace_id IS 'Prolific workspace ID (not a UUID).';

COMMENT ON COLUMN workspaces.title IS 'Workspace title.';

COMMENT ON COLUMN workspaces.description IS 'What the workspace is used for.';

COMMENT ON COLUMN workspaces.owner IS 'User ID of the workspace''s creator.';

COMMENT ON COLUMN workspaces.first_seen_at IS 'When a sync first stored the workspace.';

COMMENT ON COLUMN workspaces.last_changed_at IS 'When a sync last stored a change to it.';

COMMENT ON COLUMN workspaces.last_changed_run_id IS 'Run that last stored a change to it.';

CREATE TABLE batch_last_seen (
	batch_id VARCHAR(36) NOT NULL, 
	last_seen_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_seen_run_id INTEGER NOT NULL, 
	last_listed_at TIMESTAMP WITH TIME ZONE, 
	last_listed_run_id INTEGER, 
	PRIMARY KEY (batch_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(last_seen_run_id) REFERENCES etl_runs (run_id), 
	CONSTRAINT fk_batch_last_seen_last_listed_run_id FOREIGN KEY(last_listed_run_id) REFERENCES etl_runs (run_id)
);

COMMENT ON TABLE batch_last_seen IS 'When each batch was last fetched, and last listed. Kept apart from batches so that a nightly rerun over unchanged batches never rewrites (or sends change events for) their rows.';

COMMENT ON COLUMN batch_last_seen.batch_id IS 'The batch.';

COMMENT ON COLUMN batch_last_seen.last_seen_at IS 'When a sync last fetched it.';

COMMENT ON COLUMN batch_last_seen.last_seen_run_id IS 'Run that last fetched it.';

COMMENT ON COLUMN batch_last_seen.last_listed_at IS 'When a sync last found it in its workspace''s listing; NULL if never.';

COMMENT ON COLUMN batch_last_seen.last_listed_run_id IS 'Run that last found it in its workspace''s listing.';

CREATE TABLE batch_datasets (
	batch_id VARCHAR(36) NOT NULL, 
	dataset_id VARCHAR(36) NOT NULL, 
	PRIMARY KEY (batch_id, dataset_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(dataset_id) REFERENCES datasets (dataset_id)
);

CREATE INDEX ix_batch_datasets_dataset_id ON batch_datasets (dataset_id);

COMMENT ON TABLE batch_datasets IS 'Which datasets each batch lists, as of its last sync.';

COMMENT ON COLUMN batch_datasets.batch_id IS 'The batch.';

COMMENT ON COLUMN batch_datasets.dataset_id IS 'A dataset the batch lists now.';

CREATE TABLE batch_status_history (
	history_id SERIAL NOT NULL, 
	batch_id VARCHAR(36) NOT NULL, 
	old_status VARCHAR(64), 
	new_status VARCHAR(64) NOT NULL, 
	observed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	run_id INTEGER NOT NULL, 
	PRIMARY KEY (history_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(run_id) REFERENCES etl_runs (run_id)
);

CREATE INDEX ix_batch_status_history_batch_id ON batch_status_history (batch_id, observed_at);

COMMENT ON TABLE batch_status_history IS 'One row each time a sync finds a batch''s status changed, and one when it first sees the batch. Nothing is written while the status stays the same.';

COMMENT ON COLUMN batch_status_history.history_id IS 'Sequential id of the observation.';

COMMENT ON COLUMN batch_status_history.batch_id IS 'The batch.';

COMMENT ON COLUMN batch_status_history.old_status IS 'Status before the change; NULL on the batch''s first observation.';

COMMENT ON COLUMN batch_status_history.new_status IS 'Status the sync found.';

COMMENT ON COLUMN batch_status_history.observed_at IS 'When the sync stored the change (UTC); the batch changed at or before it.';

COMMENT ON COLUMN batch_status_history.run_id IS 'Run that observed the change.';

CREATE TABLE dataset_imports (
	import_id VARCHAR(36) NOT NULL, 
	dataset_id VARCHAR(36) NOT NULL, 
	type VARCHAR(64) NOT NULL, 
	filename TEXT, 
	status VARCHAR(64) NOT NULL, 
	accepted_count BIGINT, 
	rejected_count BIGINT, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	reason TEXT, 
	PRIMARY KEY (import_id), 
	FOREIGN KEY(dataset_id) REFERENCES datasets (dataset_id)
);

CREATE INDEX ix_dataset_imports_dataset_id ON dataset_imports (dataset_id);

COMMENT ON TABLE dataset_imports IS 'One row per import job of a version 4 dataset, as of its details'' last fetch; a job no longer listed is removed with it.';

COMMENT ON COLUMN dataset_imports.import_id IS 'Import job UUID.';

COMMENT ON COLUMN dataset_imports.dataset_id IS 'The (version 4) dataset it imports into.';

COMMENT ON COLUMN dataset_imports.type IS 'Kind of import, as sent (file_upload).';

COMMENT ON COLUMN dataset_imports.filename IS 'File name given for the upload.';

COMMENT ON COLUMN dataset_imports.status IS 'As sent: uninitialised, queued, processing, complete, partial, failed, pending_schema; open to new values.';

COMMENT ON COLUMN dataset_imports.accepted_count IS 'Records ingested (complete or partial).';

COMMENT ON COLUMN dataset_imports.rejected_count IS 'Records rejected (partial).';

COMMENT ON COLUMN dataset_imports.created_at IS 'When the job was created (UTC).';

COMMENT ON COLUMN dataset_imports.updated_at IS 'When it last changed (UTC).';

COMMENT ON COLUMN dataset_imports.reason IS 'Why it failed, when it did.';

CREATE TABLE responses (
	response_id VARCHAR(36) NOT NULL, 
	batch_id VARCHAR(36) NOT NULL, 
	task_id VARCHAR(255) NOT NULL, 
	participant_id VARCHAR(255) NOT NULL, 
	submission_id VARCHAR(255), 
	correlation_id VARCHAR(255), 
	instruction_id VARCHAR(255) NOT NULL, 
	response_type VARCHAR(64) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	schema_version INTEGER, 
	no_submission BOOLEAN, 
	metadata JSONB, 
	answer JSONB NOT NULL, 
	content_hash VARCHAR(64) NOT NULL, 
	removed_upstream_at TIMESTAMP WITH TIME ZONE, 
	first_seen_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_changed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
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

COMMENT ON TABLE responses IS 'One row per response record (a participant''s answer to one instruction of a task), loaded with sync --responses.';

COMMENT ON COLUMN responses.response_id IS 'Response record UUID.';

COMMENT ON COLUMN responses.batch_id IS 'The batch it answers.';

COMMENT ON COLUMN responses.task_id IS 'The task answered (not a UUID).';

COMMENT ON COLUMN responses.participant_id IS 'The Prolific participant.';

COMMENT ON COLUMN responses.submission_id IS 'The Prolific submission, when there is one.';

COMMENT ON COLUMN responses.correlation_id IS 'Correlation ID, for tracking, when sent.';

COMMENT ON COLUMN responses.instruction_id IS 'The instruction answered.';

COMMENT ON COLUMN responses.response_type IS 'As sent: multiple_choice, free_text, free_text_with_unit, multiple_choice_with_free_text, file_upload; open to new values.';

COMMENT ON COLUMN responses.created_at IS 'When it was given (UTC).';

COMMENT ON COLUMN responses.schema_version IS 'Response schema version, when sent.';

COMMENT ON COLUMN responses.no_submission IS 'As sent (undocumented); NULL when absent.';

COMMENT ON COLUMN responses.metadata IS 'The record''s metadata object, as sent.';

COMMENT ON COLUMN responses.answer IS 'The answer list as sent (one row per value in response_answers).';

COMMENT ON COLUMN responses.content_hash IS 'SHA-256 of its content; a sync rewrites the row only when it changes.';

COMMENT ON COLUMN responses.removed_upstream_at IS 'When a sync found it gone from its batch''s complete responses (UTC); NULL while the API returns it. Never deleted.';

COMMENT ON COLUMN responses.first_seen_at IS 'When a sync first stored it.';

COMMENT ON COLUMN responses.last_changed_at IS 'When a sync last stored a change to it.';

COMMENT ON COLUMN responses.last_changed_run_id IS 'Run that last stored a change to it.';

CREATE TABLE studies (
	study_id VARCHAR(255) NOT NULL, 
	batch_id VARCHAR(36) NOT NULL, 
	project_id VARCHAR(255) NOT NULL, 
	workspace_id VARCHAR(255) NOT NULL, 
	name TEXT NOT NULL, 
	internal_name TEXT, 
	status VARCHAR(64) NOT NULL, 
	reward DOUBLE PRECISION, 
	currency VARCHAR(16), 
	total_available_places BIGINT, 
	places_taken BIGINT, 
	number_of_submissions BIGINT, 
	estimated_completion_time DOUBLE PRECISION, 
	maximum_allowed_time DOUBLE PRECISION, 
	total_cost DOUBLE PRECISION, 
	date_created TIMESTAMP WITH TIME ZONE, 
	published_at TIMESTAMP WITH TIME ZONE, 
	completed_at TIMESTAMP WITH TIME ZONE, 
	content_hash VARCHAR(64) NOT NULL, 
	removed_upstream_at TIMESTAMP WITH TIME ZONE, 
	first_seen_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_changed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_changed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (study_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
);

CREATE INDEX ix_studies_batch_id ON studies (batch_id);

COMMENT ON TABLE studies IS 'One row per Prolific study that recruits for a synced AI Task Builder batch (sync --submissions). Other studies are not stored.';

COMMENT ON COLUMN studies.study_id IS 'Prolific study ID (not a UUID).';

COMMENT ON COLUMN studies.batch_id IS 'The AI Task Builder batch it recruits for (its data_collection_id).';

COMMENT ON COLUMN studies.project_id IS 'The project that lists it.';

COMMENT ON COLUMN studies.workspace_id IS 'The workspace of that project.';

COMMENT ON COLUMN studies.name IS 'Public name, shown to participants.';

COMMENT ON COLUMN studies.internal_name IS 'Internal name, not shown to participants.';

COMMENT ON COLUMN studies.status IS 'As sent: UNPUBLISHED, SCHEDULED, PUBLISHING, ACTIVE, AWAITING REVIEW, PAUSED, COMPLETED today; open to new values.';

COMMENT ON COLUMN studies.reward IS 'Pay per place, in minor units (cents, pence).';

COMMENT ON COLUMN studies.currency IS 'Currency of the reward (currency_code), when sent.';

COMMENT ON COLUMN studies.total_available_places IS 'Places it recruits.';

COMMENT ON COLUMN studies.places_taken IS 'Places taken: submissions started, not counting timed-out and returned ones.';

COMMENT ON COLUMN studies.number_of_submissions IS 'Submissions, when sent.';

COMMENT ON COLUMN studies.estimated_completion_time IS 'Estimated duration, in minutes.';

COMMENT ON COLUMN studies.maximum_allowed_time IS 'Longest time allowed, in minutes.';

COMMENT ON COLUMN studies.total_cost IS 'Total cost with fees, in minor units, when sent.';

COMMENT ON COLUMN studies.date_created IS 'When it was created (UTC), when sent.';

COMMENT ON COLUMN studies.published_at IS 'When it was published (UTC), when sent.';

COMMENT ON COLUMN studies.completed_at IS 'When it completed (UTC), when sent.';

COMMENT ON COLUMN studies.content_hash IS 'SHA-256 of its content; a sync rewrites the row only when it changes.';

COMMENT ON COLUMN studies.removed_upstream_at IS 'When a sync found it gone from its project''s complete study listing (UTC); NULL while listed. Never deleted.';

COMMENT ON COLUMN studies.first_seen_at IS 'When a sync first stored it.';

COMMENT ON COLUMN studies.last_changed_at IS 'When a sync last stored a change to it.';

COMMENT ON COLUMN studies.last_changed_run_id IS 'Run that last stored a change to it.';

CREATE TABLE batch_responses_loaded (
	batch_id VARCHAR(36) NOT NULL, 
	loaded_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	run_id INTEGER NOT NULL, 
	PRIMARY KEY (batch_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(run_id) REFERENCES etl_runs (run_id)
);

COMMENT ON TABLE batch_responses_loaded IS 'When each batch''s responses were last loaded whole: with --submissions, a batch whose studies are complete and whose responses were loaded after their last change is not downloaded again (see etl/store/settled.py).';

COMMENT ON COLUMN batch_responses_loaded.batch_id IS 'The batch.';

COMMENT ON COLUMN batch_responses_loaded.loaded_at IS 'When a sync last read its responses whole (every one its meta.count promised, none failed to load).';

COMMENT ON COLUMN batch_responses_loaded.run_id IS 'Run that last read them whole.';

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
	percent_agreement DOUBLE PRECISION, 
	krippendorff_alpha DOUBLE PRECISION, 
	not_computed VARCHAR(32), 
	excluded_answers INTEGER NOT NULL, 
	superseded_answers INTEGER NOT NULL, 
	computed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	computed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (batch_id, instruction_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(computed_run_id) REFERENCES etl_runs (run_id)
);

COMMENT ON TABLE label_agreement IS 'Agreement among annotators per batch and instruction (etl/quality/).';

COMMENT ON COLUMN label_agreement.batch_id IS 'The batch.';

COMMENT ON COLUMN label_agreement.instruction_id IS 'The instruction.';

COMMENT ON COLUMN label_agreement.response_type IS 'The instruction''s response type.';

COMMENT ON COLUMN label_agreement.level IS 'Level of measurement alpha is computed at: nominal (choices, booleans) or interval (numbers); NULL when it is not computed (see not_computed).';

COMMENT ON COLUMN label_agreement.units IS 'Tasks answered.';

COMMENT ON COLUMN label_agreement.pairable_units IS 'Tasks answered twice or more.';

COMMENT ON COLUMN label_agreement.annotators IS 'Participants who answered.';

COMMENT ON COLUMN label_agreement.answers IS 'Answers counted.';

COMMENT ON COLUMN label_agreement.pairable_values IS 'Answers on tasks answered twice or more (Krippendorff''s n).';

COMMENT ON COLUMN label_agreement.percent_agreement IS 'Agreeing pairs of answers among all pairs within a task (0 to 1).';

COMMENT ON COLUMN label_agreement.krippendorff_alpha IS 'Krippendorff''s alpha at `level` (1 perfect, 0 chance, below 0 worse).';

COMMENT ON COLUMN label_agreement.not_computed IS 'Why alpha is NULL: free_text, file_upload, multiple_values, mixed_units, mixed_types, unknown_type, no_answers, no_pairable_units, no_variation.';

COMMENT ON COLUMN label_agreement.excluded_answers IS 'Answers left out because their submission was REJECTED or RETURNED.';

COMMENT ON COLUMN label_agreement.superseded_answers IS 'Earlier answers of a participant to the same task, replaced by their latest.';

COMMENT ON COLUMN label_agreement.computed_at IS 'When it was computed (UTC).';

COMMENT ON COLUMN label_agreement.computed_run_id IS 'The run that computed it: the last run that changed the batch''s responses or its submissions'' statuses.';

CREATE TABLE consensus_labels (
	batch_id VARCHAR(36) NOT NULL, 
	instruction_id VARCHAR(255) NOT NULL, 
	task_id VARCHAR(255) NOT NULL, 
	consensus TEXT, 
	votes INTEGER NOT NULL, 
	answers INTEGER NOT NULL, 
	support DOUBLE PRECISION NOT NULL, 
	is_tie BOOLEAN NOT NULL, 
	tied_values JSONB, 
	computed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	computed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (batch_id, instruction_id, task_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(computed_run_id) REFERENCES etl_runs (run_id)
);

COMMENT ON TABLE consensus_labels IS 'The consensus label of each task per instruction: the majority answer.';

COMMENT ON COLUMN consensus_labels.batch_id IS 'The batch.';

COMMENT ON COLUMN consensus_labels.instruction_id IS 'The instruction.';

COMMENT ON COLUMN consensus_labels.task_id IS 'The task.';

COMMENT ON COLUMN consensus_labels.consensus IS 'The majority answer as text (a number as its shortest text, a multiple selection as a JSON list); NULL on a tie.';

COMMENT ON COLUMN consensus_labels.votes IS 'Answers that gave the consensus value.';

COMMENT ON COLUMN consensus_labels.answers IS 'Answers counted for the task.';

COMMENT ON COLUMN consensus_labels.support IS 'votes / answers.';

COMMENT ON COLUMN consensus_labels.is_tie IS 'Whether several values share the top.';

COMMENT ON COLUMN consensus_labels.tied_values IS 'On a tie, the tied values (a JSON list).';

COMMENT ON COLUMN consensus_labels.computed_at IS 'When it was computed (UTC).';

COMMENT ON COLUMN consensus_labels.computed_run_id IS 'The run that computed it: the last run that changed the batch''s responses or its submissions'' statuses.';

CREATE TABLE annotator_agreement (
	batch_id VARCHAR(36) NOT NULL, 
	instruction_id VARCHAR(255) NOT NULL, 
	participant_id VARCHAR(255) NOT NULL, 
	answers INTEGER NOT NULL, 
	compared INTEGER NOT NULL, 
	agreed INTEGER NOT NULL, 
	agreement DOUBLE PRECISION, 
	computed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	computed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (batch_id, instruction_id, participant_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(computed_run_id) REFERENCES etl_runs (run_id)
);

COMMENT ON TABLE annotator_agreement IS 'Each annotator''s agreement with the consensus per batch and instruction.';

COMMENT ON COLUMN annotator_agreement.batch_id IS 'The batch.';

COMMENT ON COLUMN annotator_agreement.instruction_id IS 'The instruction.';

COMMENT ON COLUMN annotator_agreement.participant_id IS 'The participant.';

COMMENT ON COLUMN annotator_agreement.answers IS 'Answers they gave (counted ones).';

COMMENT ON COLUMN annotator_agreement.compared IS 'Of those, answers on tasks with two answers or more and no tie.';

COMMENT ON COLUMN annotator_agreement.agreed IS 'Of those, answers equal to the consensus.';

COMMENT ON COLUMN annotator_agreement.agreement IS 'agreed / compared; NULL when nothing was compared.';

COMMENT ON COLUMN annotator_agreement.computed_at IS 'When it was computed (UTC).';

COMMENT ON COLUMN annotator_agreement.computed_run_id IS 'The run that computed it: the last run that changed the batch''s responses or its submissions'' statuses.';

CREATE TABLE response_answers (
	response_id VARCHAR(36) NOT NULL, 
	position INTEGER NOT NULL, 
	value_text TEXT, 
	value_number DOUBLE PRECISION, 
	value_boolean BOOLEAN, 
	unit TEXT, 
	explanation TEXT, 
	file_name TEXT, 
	file_key TEXT, 
	file_size_mb DOUBLE PRECISION, 
	content_type VARCHAR(255), 
	PRIMARY KEY (response_id, position), 
	FOREIGN KEY(response_id) REFERENCES responses (response_id) ON DELETE CASCADE
);

COMMENT ON TABLE response_answers IS 'One row per answer value of a response, as of its last change.';

COMMENT ON COLUMN response_answers.response_id IS 'The response.';

COMMENT ON COLUMN response_answers.position IS 'Its place in the answer list, from 0.';

COMMENT ON COLUMN response_answers.value_text IS 'The value as text: a string as sent, anything else as JSON (true, 3.5).';

COMMENT ON COLUMN response_answers.value_number IS 'The value, when it is a number.';

COMMENT ON COLUMN response_answers.value_boolean IS 'The value, when it is a boolean.';

COMMENT ON COLUMN response_answers.unit IS 'Its unit (free_text_with_unit).';

COMMENT ON COLUMN response_answers.explanation IS 'Its explanation, when the type asks for one.';

COMMENT ON COLUMN response_answers.file_name IS 'The uploaded file''s name (file_upload).';

COMMENT ON COLUMN response_answers.file_key IS 'The uploaded file''s storage key (file_upload).';

COMMENT ON COLUMN response_answers.file_size_mb IS 'The uploaded file''s size in MB (file_upload).';

COMMENT ON COLUMN response_answers.content_type IS 'The uploaded file''s content type (file_upload).';

CREATE TABLE submissions (
	submission_id VARCHAR(255) NOT NULL, 
	study_id VARCHAR(255) NOT NULL, 
	participant_id VARCHAR(255) NOT NULL, 
	status VARCHAR(64) NOT NULL, 
	started_at TIMESTAMP WITH TIME ZONE, 
	completed_at TIMESTAMP WITH TIME ZONE, 
	time_taken DOUBLE PRECISION, 
	reward DOUBLE PRECISION, 
	is_complete BOOLEAN, 
	study_code TEXT, 
	star_awarded BOOLEAN, 
	bonus_total DOUBLE PRECISION, 
	return_requested TIMESTAMP WITH TIME ZONE, 
	demographics JSONB, 
	content_hash VARCHAR(64) NOT NULL, 
	removed_upstream_at TIMESTAMP WITH TIME ZONE, 
	first_seen_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_changed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_changed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (submission_id), 
	FOREIGN KEY(study_id) REFERENCES studies (study_id) ON DELETE CASCADE, 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
);

CREATE INDEX ix_submissions_participant_id ON submissions (participant_id);

CREATE INDEX ix_submissions_study_id ON submissions (study_id);

COMMENT ON TABLE submissions IS 'One row per submission to a stored study (sync --submissions).';

COMMENT ON COLUMN submissions.submission_id IS 'Prolific submission ID (not a UUID).';

COMMENT ON COLUMN submissions.study_id IS 'The study it was made to.';

COMMENT ON COLUMN submissions.participant_id IS 'The Prolific participant.';

COMMENT ON COLUMN submissions.status IS 'As sent: RESERVED, ACTIVE, TIMED-OUT, AWAITING REVIEW, APPROVED, RETURNED, REJECTED, SCREENED OUT, PARTIALLY APPROVED today; open to new values.';

COMMENT ON COLUMN submissions.started_at IS 'When the participant started (UTC).';

COMMENT ON COLUMN submissions.completed_at IS 'When the participant finished (UTC).';

COMMENT ON COLUMN submissions.time_taken IS 'Seconds the participant took, when sent.';

COMMENT ON COLUMN submissions.reward IS 'Pay for it, in minor units (cents, pence), when sent.';

COMMENT ON COLUMN submissions.is_complete IS 'Whether it is complete, when sent.';

COMMENT ON COLUMN submissions.study_code IS 'The completion code entered, when sent.';

COMMENT ON COLUMN submissions.star_awarded IS 'Whether the researcher starred it, when sent.';

COMMENT ON COLUMN submissions.bonus_total IS 'Sum of its bonus payments, in minor units; NULL when none were listed.';

COMMENT ON COLUMN submissions.return_requested IS 'When a return was requested (UTC).';

COMMENT ON COLUMN submissions.demographics IS 'PERSONAL DATA: the participant''s demographics (strata) as sent, stored only by sync --demographics; NULL otherwise. The IP address is never stored.';

COMMENT ON COLUMN submissions.content_hash IS 'SHA-256 of its content; a sync rewrites the row only when it changes.';

COMMENT ON COLUMN submissions.removed_upstream_at IS 'When a sync found it gone from its study''s complete listing (UTC); NULL while listed. Never deleted.';

COMMENT ON COLUMN submissions.first_seen_at IS 'When a sync first stored it.';

COMMENT ON COLUMN submissions.last_changed_at IS 'When a sync last stored a change to it.';

COMMENT ON COLUMN submissions.last_changed_run_id IS 'Run that last stored a change to it.';

CREATE TABLE study_costs (
	study_id VARCHAR(255) NOT NULL, 
	rewards DOUBLE PRECISION, 
	reward_fees DOUBLE PRECISION, 
	reward_tax DOUBLE PRECISION, 
	bonuses DOUBLE PRECISION, 
	bonus_fees DOUBLE PRECISION, 
	bonus_tax DOUBLE PRECISION, 
	currency VARCHAR(16), 
	content_hash VARCHAR(64) NOT NULL, 
	first_seen_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_changed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_changed_run_id INTEGER NOT NULL, 
	PRIMARY KEY (study_id), 
	FOREIGN KEY(study_id) REFERENCES studies (study_id) ON DELETE CASCADE, 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
);

COMMENT ON TABLE study_costs IS 'One row per stored study: what it has cost so far (not projected), in minor units.';

COMMENT ON COLUMN study_costs.study_id IS 'The study.';

COMMENT ON COLUMN study_costs.rewards IS 'Rewards paid, in minor units (rewards.rewards).';

COMMENT ON COLUMN study_costs.reward_fees IS 'Prolific''s fees on the rewards (rewards.fees).';

COMMENT ON COLUMN study_costs.reward_tax IS 'Tax on the rewards and their fees (rewards.tax).';

COMMENT ON COLUMN study_costs.bonuses IS 'Bonuses paid, in minor units (bonuses.rewards).';

COMMENT ON COLUMN study_costs.bonus_fees IS 'Fees on the bonuses (bonuses.fees).';

COMMENT ON COLUMN study_costs.bonus_tax IS 'Tax on the bonuses and their fees (bonuses.tax).';

COMMENT ON COLUMN study_costs.currency IS 'Currency of the amounts, as sent (GBP, USD).';

COMMENT ON COLUMN study_costs.content_hash IS 'SHA-256 of the cost and the counts; rewritten only when they change.';

COMMENT ON COLUMN study_costs.first_seen_at IS 'When a sync first stored it.';

COMMENT ON COLUMN study_costs.last_changed_at IS 'When a sync last stored a change to it: the cost is as of then.';

COMMENT ON COLUMN study_costs.last_changed_run_id IS 'Run that last stored a change to it: the cost is as of then.';

CREATE TABLE submission_status_history (
	history_id SERIAL NOT NULL, 
	submission_id VARCHAR(255) NOT NULL, 
	old_status VARCHAR(64), 
	new_status VARCHAR(64) NOT NULL, 
	observed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	run_id INTEGER NOT NULL, 
	PRIMARY KEY (history_id), 
	FOREIGN KEY(submission_id) REFERENCES submissions (submission_id) ON DELETE CASCADE, 
	FOREIGN KEY(run_id) REFERENCES etl_runs (run_id)
);

CREATE INDEX ix_submission_status_history_submission_id ON submission_status_history (submission_id, observed_at);

COMMENT ON TABLE submission_status_history IS 'One row each time a sync finds a submission''s status changed (a review days later), and one when it first sees the submission.';

COMMENT ON COLUMN submission_status_history.history_id IS 'Sequential id of the observation.';

COMMENT ON COLUMN submission_status_history.submission_id IS 'The submission.';

COMMENT ON COLUMN submission_status_history.old_status IS 'Status before the change; NULL on its first observation.';

COMMENT ON COLUMN submission_status_history.new_status IS 'Status the sync found.';

COMMENT ON COLUMN submission_status_history.observed_at IS 'When the sync stored the change (UTC); it changed at or before then.';

COMMENT ON COLUMN submission_status_history.run_id IS 'Run that observed the change.';

CREATE TABLE study_submission_counts (
	study_id VARCHAR(255) NOT NULL, 
	status VARCHAR(64) NOT NULL, 
	submissions BIGINT NOT NULL, 
	PRIMARY KEY (study_id, status), 
	FOREIGN KEY(study_id) REFERENCES study_costs (study_id) ON DELETE CASCADE
);

COMMENT ON TABLE study_submission_counts IS 'The API''s count of each study''s submissions per status (submissions/counts/), as of study_costs.last_changed_at; TOTAL is left out (it is their sum).';

COMMENT ON COLUMN study_submission_counts.study_id IS 'The study.';

COMMENT ON COLUMN study_submission_counts.status IS 'A submission status, as sent.';

COMMENT ON COLUMN study_submission_counts.submissions IS 'Its submissions in that status.';
