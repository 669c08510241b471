-- prolific-etl schema for mysql.
-- Generated from etl/store/schema.py by `prolific-etl db ddl`; do not edit by hand.
CREATE TABLE etl_runs (
	run_id INTEGER NOT NULL COMMENT 'Sequential id of the run.' AUTO_INCREMENT, 
	started_at DATETIME(6) NOT NULL COMMENT 'When the run started (UTC).', 
	finished_at DATETIME(6) COMMENT 'When the run ended (UTC); NULL while running.', 
	status VARCHAR(16) NOT NULL COMMENT 'running, succeeded, partial (some batches failed), failed, aborted.', 
	ids_read INTEGER NOT NULL COMMENT 'Distinct valid batch IDs read from the ID file.', 
	listed INTEGER NOT NULL COMMENT 'Batches found in workspace listings (--workspace, --all-workspaces) and not in the ID file: ids_read + listed is every batch the run took on.' DEFAULT '0', 
	fetched INTEGER NOT NULL COMMENT 'Batches fetched from the API with a 200.', 
	inserted INTEGER NOT NULL COMMENT 'Batches seen for the first time.', 
	updated INTEGER NOT NULL COMMENT 'Known batches whose content changed.', 
	unchanged INTEGER NOT NULL COMMENT 'Known batches whose content did not change.', 
	failed INTEGER NOT NULL COMMENT 'Rows written to etl_failures by this run (bad ID lines and failed batches).', 
	responses_inserted INTEGER NOT NULL COMMENT 'Responses seen for the first time (sync --responses).' DEFAULT '0', 
	responses_updated INTEGER NOT NULL COMMENT 'Known responses whose content changed.' DEFAULT '0', 
	responses_unchanged INTEGER NOT NULL COMMENT 'Known responses whose content did not change.' DEFAULT '0', 
	studies_written INTEGER NOT NULL COMMENT 'Studies stored for the first time or changed upstream (sync --submissions).' DEFAULT '0', 
	studies_unchanged INTEGER NOT NULL COMMENT 'Studies fetched again and found as stored.' DEFAULT '0', 
	submissions_written INTEGER NOT NULL COMMENT 'Submissions stored for the first time or changed upstream.' DEFAULT '0', 
	submissions_unchanged INTEGER NOT NULL COMMENT 'Submissions fetched again and found as stored.' DEFAULT '0', 
	responses_skipped INTEGER NOT NULL COMMENT 'Batches whose responses were not downloaded: their studies are complete and their responses were loaded whole since (sync --responses --submissions).' DEFAULT '0', 
	retries INTEGER NOT NULL COMMENT 'Requests retried after a 429, 5xx, timeout or dropped connection.', 
	tool_version VARCHAR(32) NOT NULL COMMENT 'prolific-etl version.', 
	id_source MEDIUMTEXT COMMENT 'Where the batch IDs came from: the ID file (<stdin> for standard input) and the workspaces listed, separated by ''; ''.', 
	error_message MEDIUMTEXT COMMENT 'Why the run failed, when it failed as a whole.', 
	PRIMARY KEY (run_id), 
	CONSTRAINT ck_etl_runs_status CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'aborted'))
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='One row per run of the job.' COLLATE utf8mb4_bin;

CREATE TABLE batches (
	batch_id VARCHAR(36) NOT NULL COMMENT 'Batch UUID (lower case).', 
	name MEDIUMTEXT NOT NULL COMMENT 'Batch name.', 
	status VARCHAR(64) NOT NULL COMMENT 'As sent: UNINITIALISED, PROCESSING, READY or ERROR today; open to new values.', 
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
	batch_items JSON COMMENT 'The batch''s instruction layout (pages, rows, columns, items) as sent; NULL for batches without one.', 
	auto_sync_enabled BOOL COMMENT 'Whether new datapoints of its dataset become tasks by themselves; NULL when the API leaves it out (off).', 
	extra_fields JSON COMMENT 'Top-level fields the API sent that the spec does not list, as a JSON object; NULL when there were none.', 
	removed_upstream_at DATETIME(6) COMMENT 'When a sync found the batch gone from the listing of its workspace that used to hold it (UTC); NULL while it is listed, or was never read from a listing. Never deleted.', 
	content_hash VARCHAR(64) NOT NULL COMMENT 'SHA-256 of the batch''s content; a sync rewrites the row only when it changes.', 
	first_seen_at DATETIME(6) NOT NULL COMMENT 'When a sync first stored the batch.', 
	last_changed_at DATETIME(6) NOT NULL COMMENT 'When a sync last stored a change to the batch.', 
	first_seen_run_id INTEGER NOT NULL COMMENT 'Run that first stored the batch.', 
	last_changed_run_id INTEGER NOT NULL COMMENT 'Run that last stored a change to the batch.', 
	PRIMARY KEY (batch_id), 
	FOREIGN KEY(first_seen_run_id) REFERENCES etl_runs (run_id), 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='One row per AI Task Builder batch, with its task details.' COLLATE utf8mb4_bin;

CREATE INDEX ix_batches_status ON batches (status);

CREATE INDEX ix_batches_workspace_id ON batches (workspace_id);

CREATE TABLE datasets (
	dataset_id VARCHAR(36) NOT NULL COMMENT 'Dataset UUID (lower case).', 
	filename MEDIUMTEXT NOT NULL COMMENT 'File name of the dataset.', 
	total_datapoint_count BIGINT NOT NULL COMMENT 'Datapoints in the dataset.', 
	name MEDIUMTEXT COMMENT 'Dataset name (from its details; NULL until fetched).', 
	created_at DATETIME(6) COMMENT 'Creation time at Prolific (UTC), from its details.', 
	created_by VARCHAR(255) COMMENT 'User ID of its creator, from its details.', 
	workspace_id VARCHAR(255) COMMENT 'Its workspace, from its details.', 
	schema_version VARCHAR(16) COMMENT 'Dataset version: 3 (CSV/ZIP upload) or 4 (field schema and import jobs).', 
	status VARCHAR(64) COMMENT 'Processing status of a version 3 dataset, as sent; NULL for version 4 (see dataset_imports).', 
	has_predetermined_grouping_id BOOL COMMENT 'Version 3: whether it has a META_TASK_GROUP_ID column.', 
	field_schema JSON COMMENT 'Version 4: the researcher-defined field schema (the API''s ''schema'') as sent.', 
	details_synced_at DATETIME(6) COMMENT 'When its details were last stored; NULL when they are due (new, changed, or the last fetch failed). A dataset still in flight (a status or import job not settled) is asked again every run and stored when it moved.', 
	details_run_id INTEGER COMMENT 'Run that last fetched its details.', 
	first_seen_at DATETIME(6) NOT NULL COMMENT 'When a sync first stored the dataset.', 
	last_changed_at DATETIME(6) NOT NULL COMMENT 'When a sync last stored a change to the dataset.', 
	last_changed_run_id INTEGER NOT NULL COMMENT 'Run that last stored a change to the dataset.', 
	PRIMARY KEY (dataset_id), 
	CONSTRAINT fk_datasets_details_run_id FOREIGN KEY(details_run_id) REFERENCES etl_runs (run_id), 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='One row per dataset, however many batches use it.' COLLATE utf8mb4_bin;

CREATE TABLE etl_failures (
	failure_id INTEGER NOT NULL COMMENT 'Sequential id of the failure.' AUTO_INCREMENT, 
	run_id INTEGER NOT NULL COMMENT 'The run.', 
	batch_id VARCHAR(36) COMMENT 'The batch; NULL for a bad ID line, a workspace''s listing or a dataset.', 
	workspace_id VARCHAR(255) COMMENT 'The workspace whose listing failed, or that listed the failed batch.', 
	dataset_id VARCHAR(36) COMMENT 'The dataset whose details could not be fetched.', 
	response_id VARCHAR(36) COMMENT 'The response that failed validation.', 
	input_line MEDIUMTEXT COMMENT 'The bad ID line, as read (shortened).', 
	line_number INTEGER COMMENT 'Line number of the bad ID line.', 
	stage VARCHAR(16) NOT NULL COMMENT 'input (an ID line), listing (the workspaces, a workspace''s batch listing), fetch, validate, load, dataset (a dataset''s details), responses, studies (a workspace''s projects and studies, a study), submissions or costs (a study''s).', 
	http_status INTEGER COMMENT 'HTTP status of the last response, when there was one.', 
	error_kind VARCHAR(32) NOT NULL COMMENT 'Stable error name: bad_id_line, not_found, invalid_payload, ...', 
	field MEDIUMTEXT COMMENT 'The payload field that failed validation (results[3].id), or the column whose value could not be stored (batches.extra_fields).', 
	message MEDIUMTEXT NOT NULL COMMENT 'What went wrong, for a person.', 
	occurred_at DATETIME(6) NOT NULL COMMENT 'When it happened (UTC).', 
	PRIMARY KEY (failure_id), 
	FOREIGN KEY(run_id) REFERENCES etl_runs (run_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='One row per batch or ID line that failed in a run.' COLLATE utf8mb4_bin;

CREATE INDEX ix_etl_failures_run_id ON etl_failures (run_id);

CREATE TABLE workspaces (
	workspace_id VARCHAR(255) NOT NULL COMMENT 'Prolific workspace ID (not a UUID).', 
	title MEDIUMTEXT NOT NULL COMMENT 'Workspace title.', 
	description MEDIUMTEXT COMMENT 'What the workspace is used for.', 
	owner VARCHAR(255) COMMENT 'User ID of the workspace''s creator.', 
	first_seen_at DATETIME(6) NOT NULL COMMENT 'When a sync first stored the workspace.', 
	last_changed_at DATETIME(6) NOT NULL COMMENT 'When a sync last stored a change to it.', 
	last_changed_run_id INTEGER NOT NULL COMMENT 'Run that last stored a change to it.', 
	PRIMARY KEY (workspace_id), 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='One row per workspace a sync with --workspace or --all-workspaces saw. batches.workspace_id refers to it, without a foreign key: a batch read from an ID file may belong to a workspace no sync has listed.' COLLATE utf8mb4_bin;

CREATE TABLE batch_last_seen (
	batch_id VARCHAR(36) NOT NULL COMMENT 'The batch.', 
	last_seen_at DATETIME(6) NOT NULL COMMENT 'When a sync last fetched it.', 
	last_seen_run_id INTEGER NOT NULL COMMENT 'Run that last fetched it.', 
	last_listed_at DATETIME(6) COMMENT 'When a sync last found it in its workspace''s listing; NULL if never.', 
	last_listed_run_id INTEGER COMMENT 'Run that last found it in its workspace''s listing.', 
	PRIMARY KEY (batch_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(last_seen_run_id) REFERENCES etl_runs (run_id), 
	CONSTRAINT fk_batch_last_seen_last_listed_run_id FOREIGN KEY(last_listed_run_id) REFERENCES etl_runs (run_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='When each batch was last fetched, and last listed. Kept apart from batches so that a nightly rerun over unchanged batches never rewrites (or sends change events for) their rows.' COLLATE utf8mb4_bin;

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
	old_status VARCHAR(64) COMMENT 'Status before the change; NULL on the batch''s first observation.', 
	new_status VARCHAR(64) NOT NULL COMMENT 'Status the sync found.', 
	observed_at DATETIME(6) NOT NULL COMMENT 'When the sync stored the change (UTC); the batch changed at or before it.', 
	run_id INTEGER NOT NULL COMMENT 'Run that observed the change.', 
	PRIMARY KEY (history_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(run_id) REFERENCES etl_runs (run_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='One row each time a sync finds a batch''s status changed, and one when it first sees the batch. Nothing is written while the status stays the same.' COLLATE utf8mb4_bin;

CREATE INDEX ix_batch_status_history_batch_id ON batch_status_history (batch_id, observed_at);

CREATE TABLE dataset_imports (
	import_id VARCHAR(36) NOT NULL COMMENT 'Import job UUID.', 
	dataset_id VARCHAR(36) NOT NULL COMMENT 'The (version 4) dataset it imports into.', 
	type VARCHAR(64) NOT NULL COMMENT 'Kind of import, as sent (file_upload).', 
	filename MEDIUMTEXT COMMENT 'File name given for the upload.', 
	status VARCHAR(64) NOT NULL COMMENT 'As sent: uninitialised, queued, processing, complete, partial, failed, pending_schema; open to new values.', 
	accepted_count BIGINT COMMENT 'Records ingested (complete or partial).', 
	rejected_count BIGINT COMMENT 'Records rejected (partial).', 
	created_at DATETIME(6) NOT NULL COMMENT 'When the job was created (UTC).', 
	updated_at DATETIME(6) NOT NULL COMMENT 'When it last changed (UTC).', 
	reason MEDIUMTEXT COMMENT 'Why it failed, when it did.', 
	PRIMARY KEY (import_id), 
	FOREIGN KEY(dataset_id) REFERENCES datasets (dataset_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='One row per import job of a version 4 dataset, as of its details'' last fetch; a job no longer listed is removed with it.' COLLATE utf8mb4_bin;

CREATE INDEX ix_dataset_imports_dataset_id ON dataset_imports (dataset_id);

CREATE TABLE responses (
	response_id VARCHAR(36) NOT NULL COMMENT 'Response record UUID.', 
	batch_id VARCHAR(36) NOT NULL COMMENT 'The batch it answers.', 
	task_id VARCHAR(255) NOT NULL COMMENT 'The task answered (not a UUID).', 
	participant_id VARCHAR(255) NOT NULL COMMENT 'The Prolific participant.', 
	submission_id VARCHAR(255) COMMENT 'The Prolific submission, when there is one.', 
	correlation_id VARCHAR(255) COMMENT 'Correlation ID, for tracking, when sent.', 
	instruction_id VARCHAR(255) NOT NULL COMMENT 'The instruction answered.', 
	response_type VARCHAR(64) NOT NULL COMMENT 'As sent: multiple_choice, free_text, free_text_with_unit, multiple_choice_with_free_text, file_upload; open to new values.', 
	created_at DATETIME(6) NOT NULL COMMENT 'When it was given (UTC).', 
	schema_version INTEGER COMMENT 'Response schema version, when sent.', 
	no_submission BOOL COMMENT 'As sent (undocumented); NULL when absent.', 
	metadata JSON COMMENT 'The record''s metadata object, as sent.', 
	answer JSON NOT NULL COMMENT 'The answer list as sent (one row per value in response_answers).', 
	content_hash VARCHAR(64) NOT NULL COMMENT 'SHA-256 of its content; a sync rewrites the row only when it changes.', 
	removed_upstream_at DATETIME(6) COMMENT 'When a sync found it gone from its batch''s complete responses (UTC); NULL while the API returns it. Never deleted.', 
	first_seen_at DATETIME(6) NOT NULL COMMENT 'When a sync first stored it.', 
	last_changed_at DATETIME(6) NOT NULL COMMENT 'When a sync last stored a change to it.', 
	last_changed_run_id INTEGER NOT NULL COMMENT 'Run that last stored a change to it.', 
	PRIMARY KEY (response_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='One row per response record (a participant''s answer to one instruction of a task), loaded with sync --responses.' COLLATE utf8mb4_bin;

CREATE INDEX ix_responses_batch_id ON responses (batch_id, created_at);

CREATE INDEX ix_responses_batch_id_removed ON responses (batch_id, removed_upstream_at, created_at);

CREATE INDEX ix_responses_first_seen_at ON responses (first_seen_at);

CREATE INDEX ix_responses_last_changed_run_id ON responses (last_changed_run_id);

CREATE INDEX ix_responses_participant_id ON responses (participant_id);

CREATE TABLE studies (
	study_id VARCHAR(255) NOT NULL COMMENT 'Prolific study ID (not a UUID).', 
	batch_id VARCHAR(36) NOT NULL COMMENT 'The AI Task Builder batch it recruits for (its data_collection_id).', 
	project_id VARCHAR(255) NOT NULL COMMENT 'The project that lists it.', 
	workspace_id VARCHAR(255) NOT NULL COMMENT 'The workspace of that project.', 
	name MEDIUMTEXT NOT NULL COMMENT 'Public name, shown to participants.', 
	internal_name MEDIUMTEXT COMMENT 'Internal name, not shown to participants.', 
	status VARCHAR(64) NOT NULL COMMENT 'As sent: UNPUBLISHED, SCHEDULED, PUBLISHING, ACTIVE, AWAITING REVIEW, PAUSED, COMPLETED today; open to new values.', 
	reward DOUBLE COMMENT 'Pay per place, in minor units (cents, pence).', 
	currency VARCHAR(16) COMMENT 'Currency of the reward (currency_code), when sent.', 
	total_available_places BIGINT COMMENT 'Places it recruits.', 
	places_taken BIGINT COMMENT 'Places taken: submissions started, not counting timed-out and returned ones.', 
	number_of_submissions BIGINT COMMENT 'Submissions, when sent.', 
	estimated_completion_time DOUBLE COMMENT 'Estimated duration, in minutes.', 
	maximum_allowed_time DOUBLE COMMENT 'Longest time allowed, in minutes.', 
	total_cost DOUBLE COMMENT 'Total cost with fees, in minor units, when sent.', 
	date_created DATETIME(6) COMMENT 'When it was created (UTC), when sent.', 
	published_at DATETIME(6) COMMENT 'When it was published (UTC), when sent.', 
	completed_at DATETIME(6) COMMENT 'When it completed (UTC), when sent.', 
	content_hash VARCHAR(64) NOT NULL COMMENT 'SHA-256 of its content; a sync rewrites the row only when it changes.', 
	removed_upstream_at DATETIME(6) COMMENT 'When a sync found it gone from its project''s complete study listing (UTC); NULL while listed. Never deleted.', 
	first_seen_at DATETIME(6) NOT NULL COMMENT 'When a sync first stored it.', 
	last_changed_at DATETIME(6) NOT NULL COMMENT 'When a sync last stored a change to it.', 
	last_changed_run_id INTEGER NOT NULL COMMENT 'Run that last stored a change to it.', 
	PRIMARY KEY (study_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='One row per Prolific study that recruits for a synced AI Task Builder batch (sync --submissions). Other studies are not stored.' COLLATE utf8mb4_bin;

CREATE INDEX ix_studies_batch_id ON studies (batch_id);

CREATE TABLE batch_responses_loaded (
	batch_id VARCHAR(36) NOT NULL COMMENT 'The batch.', 
	loaded_at DATETIME(6) NOT NULL COMMENT 'When a sync last read its responses whole (every one its meta.count promised, none failed to load).', 
	run_id INTEGER NOT NULL COMMENT 'Run that last read them whole.', 
	PRIMARY KEY (batch_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(run_id) REFERENCES etl_runs (run_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='When each batch''s responses were last loaded whole: with --submissions, a batch whose studies are complete and whose responses were loaded after their last change is not downloaded again (see etl/store/settled.py).' COLLATE utf8mb4_bin;

CREATE TABLE label_agreement (
	batch_id VARCHAR(36) NOT NULL COMMENT 'The batch.', 
	instruction_id VARCHAR(255) NOT NULL COMMENT 'The instruction.', 
	response_type VARCHAR(64) COMMENT 'The instruction''s response type.', 
	level VARCHAR(16) COMMENT 'Level of measurement alpha is computed at: nominal (choices, booleans) or interval (numbers); NULL when it is not computed (see not_computed).', 
	units INTEGER NOT NULL COMMENT 'Tasks answered.', 
	pairable_units INTEGER NOT NULL COMMENT 'Tasks answered twice or more.', 
	annotators INTEGER NOT NULL COMMENT 'Participants who answered.', 
	answers INTEGER NOT NULL COMMENT 'Answers counted.', 
	pairable_values INTEGER NOT NULL COMMENT 'Answers on tasks answered twice or more (Krippendorff''s n).', 
	percent_agreement DOUBLE COMMENT 'Agreeing pairs of answers among all pairs within a task (0 to 1).', 
	krippendorff_alpha DOUBLE COMMENT 'Krippendorff''s alpha at `level` (1 perfect, 0 chance, below 0 worse).', 
	not_computed VARCHAR(32) COMMENT 'Why alpha is NULL: free_text, file_upload, multiple_values, mixed_units, mixed_types, unknown_type, no_answers, no_pairable_units, no_variation.', 
	excluded_answers INTEGER NOT NULL COMMENT 'Answers left out because their submission was REJECTED or RETURNED.', 
	superseded_answers INTEGER NOT NULL COMMENT 'Earlier answers of a participant to the same task, replaced by their latest.', 
	computed_at DATETIME(6) NOT NULL COMMENT 'When it was computed (UTC).', 
	computed_run_id INTEGER NOT NULL COMMENT 'The run that computed it: the last run that changed the batch''s responses or its submissions'' statuses.', 
	PRIMARY KEY (batch_id, instruction_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(computed_run_id) REFERENCES etl_runs (run_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='Agreement among annotators per batch and instruction (etl/quality/).' COLLATE utf8mb4_bin;

CREATE TABLE consensus_labels (
	batch_id VARCHAR(36) NOT NULL COMMENT 'The batch.', 
	instruction_id VARCHAR(255) NOT NULL COMMENT 'The instruction.', 
	task_id VARCHAR(255) NOT NULL COMMENT 'The task.', 
	consensus MEDIUMTEXT COMMENT 'The majority answer as text (a number as its shortest text, a multiple selection as a JSON list); NULL on a tie.', 
	votes INTEGER NOT NULL COMMENT 'Answers that gave the consensus value.', 
	answers INTEGER NOT NULL COMMENT 'Answers counted for the task.', 
	support DOUBLE NOT NULL COMMENT 'votes / answers.', 
	is_tie BOOL NOT NULL COMMENT 'Whether several values share the top.', 
	tied_values JSON COMMENT 'On a tie, the tied values (a JSON list).', 
	computed_at DATETIME(6) NOT NULL COMMENT 'When it was computed (UTC).', 
	computed_run_id INTEGER NOT NULL COMMENT 'The run that computed it: the last run that changed the batch''s responses or its submissions'' statuses.', 
	PRIMARY KEY (batch_id, instruction_id, task_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(computed_run_id) REFERENCES etl_runs (run_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='The consensus label of each task per instruction: the majority answer.' COLLATE utf8mb4_bin;

CREATE TABLE annotator_agreement (
	batch_id VARCHAR(36) NOT NULL COMMENT 'The batch.', 
	instruction_id VARCHAR(255) NOT NULL COMMENT 'The instruction.', 
	participant_id VARCHAR(255) NOT NULL COMMENT 'The participant.', 
	answers INTEGER NOT NULL COMMENT 'Answers they gave (counted ones).', 
	compared INTEGER NOT NULL COMMENT 'Of those, answers on tasks with two answers or more and no tie.', 
	agreed INTEGER NOT NULL COMMENT 'Of those, answers equal to the consensus.', 
	agreement DOUBLE COMMENT 'agreed / compared; NULL when nothing was compared.', 
	computed_at DATETIME(6) NOT NULL COMMENT 'When it was computed (UTC).', 
	computed_run_id INTEGER NOT NULL COMMENT 'The run that computed it: the last run that changed the batch''s responses or its submissions'' statuses.', 
	PRIMARY KEY (batch_id, instruction_id, participant_id), 
	FOREIGN KEY(batch_id) REFERENCES batches (batch_id) ON DELETE CASCADE, 
	FOREIGN KEY(computed_run_id) REFERENCES etl_runs (run_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='Each annotator''s agreement with the consensus per batch and instruction.' COLLATE utf8mb4_bin;

CREATE TABLE response_answers (
	response_id VARCHAR(36) NOT NULL COMMENT 'The response.', 
	position INTEGER NOT NULL COMMENT 'Its place in the answer list, from 0.', 
	value_text MEDIUMTEXT COMMENT 'The value as text: a string as sent, anything else as JSON (true, 3.5).', 
	value_number DOUBLE COMMENT 'The value, when it is a number.', 
	value_boolean BOOL COMMENT 'The value, when it is a boolean.', 
	unit MEDIUMTEXT COMMENT 'Its unit (free_text_with_unit).', 
	explanation MEDIUMTEXT COMMENT 'Its explanation, when the type asks for one.', 
	file_name MEDIUMTEXT COMMENT 'The uploaded file''s name (file_upload).', 
	file_key MEDIUMTEXT COMMENT 'The uploaded file''s storage key (file_upload).', 
	file_size_mb DOUBLE COMMENT 'The uploaded file''s size in MB (file_upload).', 
	content_type VARCHAR(255) COMMENT 'The uploaded file''s content type (file_upload).', 
	PRIMARY KEY (response_id, position), 
	FOREIGN KEY(response_id) REFERENCES responses (response_id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='One row per answer value of a response, as of its last change.' COLLATE utf8mb4_bin;

CREATE TABLE submissions (
	submission_id VARCHAR(255) NOT NULL COMMENT 'Prolific submission ID (not a UUID).', 
	study_id VARCHAR(255) NOT NULL COMMENT 'The study it was made to.', 
	participant_id VARCHAR(255) NOT NULL COMMENT 'The Prolific participant.', 
	status VARCHAR(64) NOT NULL COMMENT 'As sent: RESERVED, ACTIVE, TIMED-OUT, AWAITING REVIEW, APPROVED, RETURNED, REJECTED, SCREENED OUT, PARTIALLY APPROVED today; open to new values.', 
	started_at DATETIME(6) COMMENT 'When the participant started (UTC).', 
	completed_at DATETIME(6) COMMENT 'When the participant finished (UTC).', 
	time_taken DOUBLE COMMENT 'Seconds the participant took, when sent.', 
	reward DOUBLE COMMENT 'Pay for it, in minor units (cents, pence), when sent.', 
	is_complete BOOL COMMENT 'Whether it is complete, when sent.', 
	study_code MEDIUMTEXT COMMENT 'The completion code entered, when sent.', 
	star_awarded BOOL COMMENT 'Whether the researcher starred it, when sent.', 
	bonus_total DOUBLE COMMENT 'Sum of its bonus payments, in minor units; NULL when none were listed.', 
	return_requested DATETIME(6) COMMENT 'When a return was requested (UTC).', 
	demographics JSON COMMENT 'PERSONAL DATA: the participant''s demographics (strata) as sent, stored only by sync --demographics; NULL otherwise. The IP address is never stored.', 
	content_hash VARCHAR(64) NOT NULL COMMENT 'SHA-256 of its content; a sync rewrites the row only when it changes.', 
	removed_upstream_at DATETIME(6) COMMENT 'When a sync found it gone from its study''s complete listing (UTC); NULL while listed. Never deleted.', 
	first_seen_at DATETIME(6) NOT NULL COMMENT 'When a sync first stored it.', 
	last_changed_at DATETIME(6) NOT NULL COMMENT 'When a sync last stored a change to it.', 
	last_changed_run_id INTEGER NOT NULL COMMENT 'Run that last stored a change to it.', 
	PRIMARY KEY (submission_id), 
	FOREIGN KEY(study_id) REFERENCES studies (study_id) ON DELETE CASCADE, 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='One row per submission to a stored study (sync --submissions).' COLLATE utf8mb4_bin;

CREATE INDEX ix_submissions_participant_id ON submissions (participant_id);

CREATE INDEX ix_submissions_study_id ON submissions (study_id);

CREATE TABLE study_costs (
	study_id VARCHAR(255) NOT NULL COMMENT 'The study.', 
	rewards DOUBLE COMMENT 'Rewards paid, in minor units (rewards.rewards).', 
	reward_fees DOUBLE COMMENT 'Prolific''s fees on the rewards (rewards.fees).', 
	reward_tax DOUBLE COMMENT 'Tax on the rewards and their fees (rewards.tax).', 
	bonuses DOUBLE COMMENT 'Bonuses paid, in minor units (bonuses.rewards).', 
	bonus_fees DOUBLE COMMENT 'Fees on the bonuses (bonuses.fees).', 
	bonus_tax DOUBLE COMMENT 'Tax on the bonuses and their fees (bonuses.tax).', 
	currency VARCHAR(16) COMMENT 'Currency of the amounts, as sent (GBP, USD).', 
	content_hash VARCHAR(64) NOT NULL COMMENT 'SHA-256 of the cost and the counts; rewritten only when they change.', 
	first_seen_at DATETIME(6) NOT NULL COMMENT 'When a sync first stored it.', 
	last_changed_at DATETIME(6) NOT NULL COMMENT 'When a sync last stored a change to it: the cost is as of then.', 
	last_changed_run_id INTEGER NOT NULL COMMENT 'Run that last stored a change to it: the cost is as of then.', 
	PRIMARY KEY (study_id), 
	FOREIGN KEY(study_id) REFERENCES studies (study_id) ON DELETE CASCADE, 
	FOREIGN KEY(last_changed_run_id) REFERENCES etl_runs (run_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='One row per stored study: what it has cost so far (not projected), in minor units.' COLLATE utf8mb4_bin;

CREATE TABLE submission_status_history (
	history_id INTEGER NOT NULL COMMENT 'Sequential id of the observation.' AUTO_INCREMENT, 
	submission_id VARCHAR(255) NOT NULL COMMENT 'The submission.', 
	old_status VARCHAR(64) COMMENT 'Status before the change; NULL on its first observation.', 
	new_status VARCHAR(64) NOT NULL COMMENT 'Status the sync found.', 
	observed_at DATETIME(6) NOT NULL COMMENT 'When the sync stored the change (UTC); it changed at or before then.', 
	run_id INTEGER NOT NULL COMMENT 'Run that observed the change.', 
	PRIMARY KEY (history_id), 
	FOREIGN KEY(submission_id) REFERENCES submissions (submission_id) ON DELETE CASCADE, 
	FOREIGN KEY(run_id) REFERENCES etl_runs (run_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='One row each time a sync finds a submission''s status changed (a review days later), and one when it first sees the submission.' COLLATE utf8mb4_bin;

CREATE INDEX ix_submission_status_history_submission_id ON submission_status_history (submission_id, observed_at);

CREATE TABLE study_submission_counts (
	study_id VARCHAR(255) NOT NULL COMMENT 'The study.', 
	status VARCHAR(64) NOT NULL COMMENT 'A submission status, as sent.', 
	submissions BIGINT NOT NULL COMMENT 'Its submissions in that status.', 
	PRIMARY KEY (study_id, status), 
	FOREIGN KEY(study_id) REFERENCES study_costs (study_id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COMMENT='The API''s count of each study''s submissions per status (submissions/counts/), as of study_costs.last_changed_at; TOTAL is left out (it is their sum).' COLLATE utf8mb4_bin;
