-- prolific-etl reporting views for mysql.
-- Generated from etl/store/views.py by `prolific-etl db views`; do not edit by hand.
DROP VIEW IF EXISTS v_changes_last_run;

DROP VIEW IF EXISTS v_annotator_quality;

DROP VIEW IF EXISTS v_consensus_labels;

DROP VIEW IF EXISTS v_agreement;

DROP VIEW IF EXISTS v_participants;

DROP VIEW IF EXISTS v_batch_cost;

DROP VIEW IF EXISTS v_submission_task_time;

DROP VIEW IF EXISTS v_study_review_status;

DROP VIEW IF EXISTS v_approved_answers;

DROP VIEW IF EXISTS v_batch_progress;

DROP VIEW IF EXISTS v_instruction_answers;

DROP VIEW IF EXISTS v_batch_participants;

DROP VIEW IF EXISTS v_responses_per_day;

DROP VIEW IF EXISTS v_batches_removed_upstream;

DROP VIEW IF EXISTS v_datasets;

DROP VIEW IF EXISTS v_latest_run_failures;

DROP VIEW IF EXISTS v_run_health;

DROP VIEW IF EXISTS v_batch_processing_time;

DROP VIEW IF EXISTS v_batch_status_intervals;

DROP VIEW IF EXISTS v_dataset_usage;

DROP VIEW IF EXISTS v_workspace_summary;

DROP VIEW IF EXISTS v_batches;

CREATE VIEW v_batches AS
SELECT batches.batch_id, batches.name, batches.status, batches.workspace_id, batches.created_at, batches.created_by, batches.schema_version, batches.total_task_count, batches.total_instruction_count, batches.total_task_groups, batches.task_name, batches.task_introduction, batches.task_steps, batches.auto_sync_enabled, CAST(coalesce(dataset_totals.dataset_count, 0) AS SIGNED INTEGER) AS dataset_count, CAST(coalesce(dataset_totals.total_datapoint_count, 0) AS SIGNED INTEGER) AS total_datapoint_count, workspaces.title AS workspace_title, batches.removed_upstream_at, batches.first_seen_at, batches.last_changed_at, batch_last_seen.last_seen_at, batch_last_seen.last_listed_at 
FROM batches LEFT OUTER JOIN (SELECT batch_datasets.batch_id AS batch_id, count(*) AS dataset_count, sum(datasets.total_datapoint_count) AS total_datapoint_count 
FROM batch_datasets INNER JOIN datasets ON datasets.dataset_id = batch_datasets.dataset_id GROUP BY batch_datasets.batch_id) AS dataset_totals ON dataset_totals.batch_id = batches.batch_id LEFT OUTER JOIN batch_last_seen ON batch_last_seen.batch_id = batches.batch_id LEFT OUTER JOIN workspaces ON workspaces.workspace_id = batches.workspace_id;

CREATE VIEW v_workspace_summary AS
SELECT v_batches.workspace_id, CAST(count(*) AS SIGNED INTEGER) AS batch_count, CAST(sum(CASE WHEN (v_batches.status = 'UNINITIALISED') THEN 1 ELSE 0 END) AS SIGNED INTEGER) AS uninitialised_batches, CAST(sum(CASE WHEN (v_batches.status = 'PROCESSING') THEN 1 ELSE 0 END) AS SIGNED INTEGER) AS processing_batches, CAST(sum(CASE WHEN (v_batches.status = 'READY') THEN 1 ELSE 0 END) AS SIGNED INTEGER) AS ready_batches, CAST(sum(CASE WHEN (v_batches.status = 'ERROR') THEN 1 ELSE 0 END) AS SIGNED INTEGER) AS error_batches, CAST(sum(v_batches.total_task_count) AS SIGNED INTEGER) AS total_task_count, CAST(sum(v_batches.total_instruction_count) AS SIGNED INTEGER) AS total_instruction_count, CAST(sum(v_batches.total_datapoint_count) AS SIGNED INTEGER) AS total_datapoint_count 
FROM v_batches GROUP BY v_batches.workspace_id;

CREATE VIEW v_dataset_usage AS
SELECT datasets.dataset_id, datasets.filename, datasets.total_datapoint_count, CAST(count(batch_datasets.batch_id) OVER (PARTITION BY datasets.dataset_id) AS SIGNED INTEGER) AS batches_using, batch_datasets.batch_id, batches.name AS batch_name, batches.status AS batch_status, batches.workspace_id 
FROM datasets LEFT OUTER JOIN batch_datasets ON batch_datasets.dataset_id = datasets.dataset_id LEFT OUTER JOIN batches ON batches.batch_id = batch_datasets.batch_id;

CREATE VIEW v_batch_status_intervals AS
SELECT steps.history_id, steps.batch_id, batches.name AS batch_name, batches.workspace_id, steps.old_status AS previous_status, steps.new_status AS status, steps.observed_at AS entered_at, steps.left_at, steps.next_status, TIMESTAMPDIFF(MICROSECOND, steps.observed_at, steps.left_at) / 1e6 AS seconds_in_status 
FROM (SELECT batch_status_history.history_id AS history_id, batch_status_history.batch_id AS batch_id, batch_status_history.old_status AS old_status, batch_status_history.new_status AS new_status, batch_status_history.observed_at AS observed_at, lead(batch_status_history.observed_at) OVER (PARTITION BY batch_status_history.batch_id ORDER BY batch_status_history.observed_at, batch_status_history.history_id) AS left_at, lead(batch_status_history.new_status) OVER (PARTITION BY batch_status_history.batch_id ORDER BY batch_status_history.observed_at, batch_status_history.history_id) AS next_status 
FROM batch_status_history) AS steps INNER JOIN batches ON batches.batch_id = steps.batch_id;

CREATE VIEW v_batch_processing_time AS
SELECT starts.batch_id, batches.name AS batch_name, batches.workspace_id, batches.status AS current_status, starts.processing_started_at, ends.entered_at AS finished_at, ends.status AS final_status, TIMESTAMPDIFF(MICROSECOND, starts.processing_started_at, ends.entered_at) / 1e6 AS seconds_processing 
FROM (SELECT v_batch_status_intervals.batch_id AS batch_id, min(v_batch_status_intervals.entered_at) AS processing_started_at 
FROM v_batch_status_intervals 
WHERE v_batch_status_intervals.status = 'PROCESSING' GROUP BY v_batch_status_intervals.batch_id) AS starts INNER JOIN batches ON batches.batch_id = starts.batch_id LEFT OUTER JOIN (SELECT v_batch_status_intervals.batch_id AS batch_id, v_batch_status_intervals.status AS status, v_batch_status_intervals.entered_at AS entered_at, row_number() OVER (PARTITION BY v_batch_status_intervals.batch_id ORDER BY v_batch_status_intervals.entered_at, v_batch_status_intervals.history_id) AS nth 
FROM v_batch_status_intervals INNER JOIN (SELECT v_batch_status_intervals.batch_id AS batch_id, min(v_batch_status_intervals.entered_at) AS processing_started_at 
FROM v_batch_status_intervals 
WHERE v_batch_status_intervals.status = 'PROCESSING' GROUP BY v_batch_status_intervals.batch_id) AS starts ON starts.batch_id = v_batch_status_intervals.batch_id 
WHERE v_batch_status_intervals.status IN ('READY', 'ERROR') AND v_batch_status_intervals.entered_at > starts.processing_started_at) AS ends ON ends.batch_id = starts.batch_id AND ends.nth = 1;

CREATE VIEW v_run_health AS
SELECT etl_runs.run_id, etl_runs.status, etl_runs.started_at, etl_runs.finished_at, TIMESTAMPDIFF(MICROSECOND, etl_runs.started_at, etl_runs.finished_at) / 1e6 AS duration_seconds, etl_runs.ids_read, etl_runs.listed, etl_runs.fetched, etl_runs.inserted, etl_runs.updated, etl_runs.unchanged, etl_runs.failed, etl_runs.responses_inserted, etl_runs.responses_updated, etl_runs.responses_unchanged, etl_runs.studies_written, etl_runs.studies_unchanged, etl_runs.submissions_written, etl_runs.submissions_unchanged, etl_runs.responses_skipped, CAST(coalesce(failure_counts.failed_batches, 0) AS SIGNED INTEGER) AS failed_batches, CAST(coalesce(failure_counts.bad_id_lines, 0) AS SIGNED INTEGER) AS bad_id_lines, CAST(CAST(coalesce(failure_counts.failed_batches, 0) AS SIGNED INTEGER) AS DOUBLE) / NULLIF(etl_runs.ids_read + etl_runs.listed, 0) AS failure_rate, etl_runs.retries, etl_runs.tool_version, etl_runs.id_source, etl_runs.error_message 
FROM etl_runs LEFT OUTER JOIN (SELECT etl_failures.run_id AS run_id, count(DISTINCT etl_failures.batch_id) AS failed_batches, sum(CASE WHEN (etl_failures.stage = 'input') THEN 1 ELSE 0 END) AS bad_id_lines 
FROM etl_failures GROUP BY etl_failures.run_id) AS failure_counts ON failure_counts.run_id = etl_runs.run_id;

CREATE VIEW v_latest_run_failures AS
SELECT etl_failures.run_id, etl_runs.status AS run_status, etl_runs.started_at AS run_started_at, etl_failures.failure_id, etl_failures.batch_id, etl_failures.workspace_id, etl_failures.dataset_id, etl_failures.response_id, etl_failures.line_number, etl_failures.input_line, etl_failures.stage, etl_failures.error_kind, etl_failures.http_status, etl_failures.field, etl_failures.message, etl_failures.occurred_at 
FROM etl_failures INNER JOIN etl_runs ON etl_runs.run_id = etl_failures.run_id 
WHERE etl_failures.run_id = (SELECT max(etl_runs.run_id) AS max_1 
FROM etl_runs);

CREATE VIEW v_datasets AS
SELECT datasets.dataset_id, datasets.name, datasets.filename, datasets.total_datapoint_count, datasets.schema_version, coalesce(datasets.status, ranked_imports.status) AS status, datasets.created_at, datasets.created_by, datasets.workspace_id, workspaces.title AS workspace_title, CAST(coalesce(`using`.batches_using, 0) AS SIGNED INTEGER) AS batches_using, CAST(coalesce(import_counts.import_count, 0) AS SIGNED INTEGER) AS import_count, CAST(coalesce(import_counts.accepted_count, 0) AS SIGNED INTEGER) AS accepted_count, CAST(coalesce(import_counts.rejected_count, 0) AS SIGNED INTEGER) AS rejected_count, datasets.details_synced_at, datasets.first_seen_at, datasets.last_changed_at 
FROM datasets LEFT OUTER JOIN (SELECT batch_datasets.dataset_id AS dataset_id, count(*) AS batches_using 
FROM batch_datasets GROUP BY batch_datasets.dataset_id) AS `using` ON `using`.dataset_id = datasets.dataset_id LEFT OUTER JOIN (SELECT dataset_imports.dataset_id AS dataset_id, dataset_imports.status AS status, row_number() OVER (PARTITION BY dataset_imports.dataset_id ORDER BY dataset_imports.created_at DESC, dataset_imports.import_id DESC) AS recency 
FROM dataset_imports) AS ranked_imports ON ranked_imports.dataset_id = datasets.dataset_id AND ranked_imports.recency = 1 LEFT OUTER JOIN (SELECT dataset_imports.dataset_id AS dataset_id, count(*) AS import_count, sum(coalesce(dataset_imports.accepted_count, 0)) AS accepted_count, sum(coalesce(dataset_imports.rejected_count, 0)) AS rejected_count 
FROM dataset_imports GROUP BY dataset_imports.dataset_id) AS import_counts ON import_counts.dataset_id = datasets.dataset_id LEFT OUTER JOIN workspaces ON workspaces.workspace_id = datasets.workspace_id;

CREATE VIEW v_batches_removed_upstream AS
SELECT batches.batch_id, batches.name, batches.status, batches.workspace_id, workspaces.title AS workspace_title, batches.removed_upstream_at, batch_last_seen.last_listed_at, batches.last_changed_at 
FROM batches LEFT OUTER JOIN batch_last_seen ON batch_last_seen.batch_id = batches.batch_id LEFT OUTER JOIN workspaces ON workspaces.workspace_id = batches.workspace_id 
WHERE batches.removed_upstream_at IS NOT NULL;

CREATE VIEW v_responses_per_day AS
SELECT responses.batch_id, batches.name AS batch_name, batches.workspace_id, DATE(responses.created_at) AS day, CAST(count(*) AS SIGNED INTEGER) AS responses, CAST(count(DISTINCT responses.participant_id) AS SIGNED INTEGER) AS participants 
FROM responses INNER JOIN batches ON batches.batch_id = responses.batch_id 
WHERE responses.removed_upstream_at IS NULL AND (responses.batch_id NOT IN (SELECT batches.batch_id 
FROM batches 
WHERE batches.removed_upstream_at IS NOT NULL)) GROUP BY responses.batch_id, batches.name, batches.workspace_id, DATE(responses.created_at);

CREATE VIEW v_batch_participants AS
SELECT responses.batch_id, responses.participant_id, CAST(count(*) AS SIGNED INTEGER) AS responses, CAST(count(DISTINCT responses.task_id) AS SIGNED INTEGER) AS tasks, min(responses.created_at) AS first_response_at, max(responses.created_at) AS last_response_at 
FROM responses 
WHERE responses.removed_upstream_at IS NULL AND (responses.batch_id NOT IN (SELECT batches.batch_id 
FROM batches 
WHERE batches.removed_upstream_at IS NOT NULL)) GROUP BY responses.batch_id, responses.participant_id;

CREATE VIEW v_instruction_answers AS
SELECT responses.batch_id, responses.instruction_id, responses.response_type, response_answers.value_text, CAST(count(*) AS SIGNED INTEGER) AS answers, CAST(count(DISTINCT responses.participant_id) AS SIGNED INTEGER) AS participants 
FROM response_answers INNER JOIN responses ON responses.response_id = response_answers.response_id 
WHERE responses.removed_upstream_at IS NULL AND (responses.batch_id NOT IN (SELECT batches.batch_id 
FROM batches 
WHERE batches.removed_upstream_at IS NOT NULL)) GROUP BY responses.batch_id, responses.instruction_id, responses.response_type, response_answers.value_text;

CREATE VIEW v_batch_progress AS
SELECT batches.batch_id, batches.name, batches.status, batches.workspace_id, batches.total_task_count, CAST(coalesce(answered.responses, 0) AS SIGNED INTEGER) AS responses, CAST(coalesce(answered.tasks_answered, 0) AS SIGNED INTEGER) AS tasks_answered, CAST(coalesce(answered.participants, 0) AS SIGNED INTEGER) AS participants, CAST(CAST(coalesce(answered.tasks_answered, 0) AS SIGNED INTEGER) AS DOUBLE) / NULLIF(batches.total_task_count, 0) AS share_answered, answered.first_response_at, answered.last_response_at 
FROM batches LEFT OUTER JOIN (SELECT responses.batch_id AS batch_id, count(*) AS responses, count(DISTINCT responses.task_id) AS tasks_answered, count(DISTINCT responses.participant_id) AS participants, min(responses.created_at) AS first_response_at, max(responses.created_at) AS last_response_at 
FROM responses 
WHERE responses.removed_upstream_at IS NULL AND (responses.batch_id NOT IN (SELECT batches.batch_id 
FROM batches 
WHERE batches.removed_upstream_at IS NOT NULL)) GROUP BY responses.batch_id) AS answered ON answered.batch_id = batches.batch_id 
WHERE batches.removed_upstream_at IS NULL;

CREATE VIEW v_approved_answers AS
SELECT responses.batch_id, responses.instruction_id, responses.task_id, responses.response_id, response_answers.position, responses.response_type, response_answers.value_text, response_answers.value_number, response_answers.value_boolean, response_answers.unit, response_answers.explanation, responses.participant_id, responses.submission_id, responses.created_at 
FROM response_answers INNER JOIN responses ON responses.response_id = response_answers.response_id INNER JOIN submissions ON submissions.submission_id = responses.submission_id INNER JOIN studies ON submissions.removed_upstream_at IS NULL AND studies.removed_upstream_at IS NULL AND submissions.study_id = studies.study_id 
WHERE responses.removed_upstream_at IS NULL AND (responses.batch_id NOT IN (SELECT batches.batch_id 
FROM batches 
WHERE batches.removed_upstream_at IS NOT NULL)) AND submissions.status = 'APPROVED';

CREATE VIEW v_study_review_status AS
SELECT studies.batch_id, studies.study_id, studies.name AS study_name, studies.status AS study_status, CAST(coalesce(sum(CASE WHEN (submissions.status = 'APPROVED') THEN 1 ELSE 0 END), 0) AS SIGNED INTEGER) AS approved, CAST(coalesce(sum(CASE WHEN (submissions.status = 'REJECTED') THEN 1 ELSE 0 END), 0) AS SIGNED INTEGER) AS rejected, CAST(coalesce(sum(CASE WHEN (submissions.status = 'RETURNED') THEN 1 ELSE 0 END), 0) AS SIGNED INTEGER) AS returned, CAST(coalesce(sum(CASE WHEN (submissions.status = 'AWAITING REVIEW') THEN 1 ELSE 0 END), 0) AS SIGNED INTEGER) AS awaiting_review, CAST(coalesce(sum(CASE WHEN (submissions.status IN ('ACTIVE', 'RESERVED')) THEN 1 ELSE 0 END), 0) AS SIGNED INTEGER) AS in_progress, CAST(count(submissions.submission_id) AS SIGNED INTEGER) AS submissions 
FROM studies LEFT OUTER JOIN submissions ON submissions.study_id = studies.study_id AND submissions.removed_upstream_at IS NULL 
WHERE studies.removed_upstream_at IS NULL GROUP BY studies.batch_id, studies.study_id, studies.name, studies.status;

CREATE VIEW v_submission_task_time AS
SELECT studies.batch_id, submissions.study_id, submissions.submission_id, submissions.participant_id, submissions.status, submissions.time_taken, CAST(coalesce(tasks.tasks, 0) AS SIGNED INTEGER) AS tasks, CAST(submissions.time_taken AS DOUBLE) / NULLIF(CAST(coalesce(tasks.tasks, 0) AS SIGNED INTEGER), 0) AS seconds_per_task 
FROM submissions INNER JOIN studies ON submissions.removed_upstream_at IS NULL AND studies.removed_upstream_at IS NULL AND submissions.study_id = studies.study_id LEFT OUTER JOIN (SELECT responses.submission_id AS submission_id, count(DISTINCT responses.task_id) AS tasks 
FROM responses 
WHERE responses.removed_upstream_at IS NULL AND (responses.batch_id NOT IN (SELECT batches.batch_id 
FROM batches 
WHERE batches.removed_upstream_at IS NOT NULL)) AND responses.submission_id IS NOT NULL GROUP BY responses.submission_id) AS tasks ON tasks.submission_id = submissions.submission_id 
WHERE submissions.time_taken IS NOT NULL;

CREATE VIEW v_batch_cost AS
SELECT batches.batch_id, batches.name, CAST(costs.studies AS SIGNED INTEGER) AS studies, costs.total_cost, costs.currency, CAST(coalesce(approved.approved_responses, 0) AS SIGNED INTEGER) AS approved_responses, CAST(costs.total_cost AS DOUBLE) / NULLIF(CAST(coalesce(approved.approved_responses, 0) AS SIGNED INTEGER), 0) AS cost_per_approved_response 
FROM batches INNER JOIN (SELECT studies.batch_id AS batch_id, count(studies.study_id) AS studies, sum(coalesce(study_costs.bonus_tax, 0) + coalesce(study_costs.rewards, 0) + coalesce(study_costs.reward_fees, 0) + coalesce(study_costs.reward_tax, 0) + coalesce(study_costs.bonuses, 0) + coalesce(study_costs.bonus_fees, 0)) AS total_cost, min(study_costs.currency) AS currency, count(DISTINCT study_costs.currency) AS currencies 
FROM studies INNER JOIN study_costs ON study_costs.study_id = studies.study_id 
WHERE studies.removed_upstream_at IS NULL GROUP BY studies.batch_id) AS costs ON costs.batch_id = batches.batch_id LEFT OUTER JOIN (SELECT responses.batch_id AS batch_id, count(*) AS approved_responses 
FROM responses INNER JOIN submissions ON submissions.submission_id = responses.submission_id INNER JOIN studies ON submissions.removed_upstream_at IS NULL AND studies.removed_upstream_at IS NULL AND submissions.study_id = studies.study_id 
WHERE responses.removed_upstream_at IS NULL AND (responses.batch_id NOT IN (SELECT batches.batch_id 
FROM batches 
WHERE batches.removed_upstream_at IS NOT NULL)) AND submissions.status = 'APPROVED' GROUP BY responses.batch_id) AS approved ON approved.batch_id = batches.batch_id 
WHERE costs.currencies <= 1;

CREATE VIEW v_participants AS
SELECT per.participant_id, per.submissions, per.approved, per.rejected, per.returned, CAST(per.approved AS DOUBLE) / NULLIF(per.approved + per.rejected, 0) AS approval_rate, CAST(medians.median AS DOUBLE) / NULLIF(1, 0) AS median_time_taken 
FROM (SELECT live.participant_id AS participant_id, CAST(count(*) AS SIGNED INTEGER) AS submissions, CAST(coalesce(sum(CASE WHEN (live.status = 'APPROVED') THEN 1 ELSE 0 END), 0) AS SIGNED INTEGER) AS approved, CAST(coalesce(sum(CASE WHEN (live.status = 'REJECTED') THEN 1 ELSE 0 END), 0) AS SIGNED INTEGER) AS rejected, CAST(coalesce(sum(CASE WHEN (live.status = 'RETURNED') THEN 1 ELSE 0 END), 0) AS SIGNED INTEGER) AS returned 
FROM (SELECT submissions.participant_id AS participant_id, submissions.status AS status, submissions.time_taken AS time_taken 
FROM submissions INNER JOIN studies ON submissions.removed_upstream_at IS NULL AND studies.removed_upstream_at IS NULL AND submissions.study_id = studies.study_id) AS live GROUP BY live.participant_id) AS per LEFT OUTER JOIN (SELECT ranked.participant_id AS participant_id, avg(ranked.time_taken) AS median 
FROM (SELECT timed.participant_id AS participant_id, timed.time_taken AS time_taken, row_number() OVER (PARTITION BY timed.participant_id ORDER BY timed.time_taken) AS position, count(*) OVER (PARTITION BY timed.participant_id) AS timed 
FROM (SELECT submissions.participant_id AS participant_id, submissions.status AS status, submissions.time_taken AS time_taken 
FROM submissions INNER JOIN studies ON submissions.removed_upstream_at IS NULL AND studies.removed_upstream_at IS NULL AND submissions.study_id = studies.study_id 
WHERE submissions.time_taken IS NOT NULL) AS timed) AS ranked 
WHERE 2 * ranked.position >= ranked.timed AND 2 * ranked.position <= ranked.timed + 2 GROUP BY ranked.participant_id) AS medians ON medians.participant_id = per.participant_id;

CREATE VIEW v_agreement AS
SELECT label_agreement.batch_id, batches.name AS batch_name, label_agreement.instruction_id, label_agreement.response_type, label_agreement.level, label_agreement.units, label_agreement.pairable_units, label_agreement.annotators, label_agreement.answers, label_agreement.pairable_values, label_agreement.percent_agreement, label_agreement.krippendorff_alpha, label_agreement.not_computed, label_agreement.excluded_answers, label_agreement.superseded_answers, label_agreement.computed_at, label_agreement.computed_run_id 
FROM label_agreement INNER JOIN batches ON batches.batch_id = label_agreement.batch_id 
WHERE (label_agreement.batch_id NOT IN (SELECT batches.batch_id 
FROM batches 
WHERE batches.removed_upstream_at IS NOT NULL));

CREATE VIEW v_consensus_labels AS
SELECT consensus_labels.batch_id, consensus_labels.instruction_id, consensus_labels.task_id, consensus_labels.consensus, consensus_labels.support, consensus_labels.votes, consensus_labels.answers, consensus_labels.is_tie, consensus_labels.tied_values, consensus_labels.computed_at 
FROM consensus_labels 
WHERE (consensus_labels.batch_id NOT IN (SELECT batches.batch_id 
FROM batches 
WHERE batches.removed_upstream_at IS NOT NULL));

CREATE VIEW v_annotator_quality AS
SELECT per.participant_id, per.batches, per.answers, per.compared, per.agreed, CAST(per.agreed AS DOUBLE) / NULLIF(per.compared, 0) AS agreement, v_participants.submissions, v_participants.approved, v_participants.rejected, v_participants.returned, v_participants.approval_rate 
FROM (SELECT annotator_agreement.participant_id AS participant_id, CAST(count(distinct(annotator_agreement.batch_id)) AS SIGNED INTEGER) AS batches, CAST(sum(annotator_agreement.answers) AS SIGNED INTEGER) AS answers, CAST(sum(annotator_agreement.compared) AS SIGNED INTEGER) AS compared, CAST(sum(annotator_agreement.agreed) AS SIGNED INTEGER) AS agreed 
FROM annotator_agreement 
WHERE (annotator_agreement.batch_id NOT IN (SELECT batches.batch_id 
FROM batches 
WHERE batches.removed_upstream_at IS NOT NULL)) GROUP BY annotator_agreement.participant_id) AS per LEFT OUTER JOIN v_participants ON per.participant_id = v_participants.participant_id;

CREATE VIEW v_changes_last_run AS
SELECT CAST((SELECT max(etl_runs.run_id) AS max_1 
FROM etl_runs) AS SIGNED INTEGER) AS run_id, batches.batch_id, batches.name, batches.workspace_id, CASE WHEN (batches.first_seen_run_id = (SELECT max(etl_runs.run_id) AS max_1 
FROM etl_runs)) THEN 'new' WHEN (batches.removed_upstream_at IS NOT NULL AND batches.removed_upstream_at >= (SELECT etl_runs.started_at 
FROM etl_runs 
WHERE etl_runs.run_id = (SELECT max(etl_runs.run_id) AS max_1 
FROM etl_runs))) THEN 'removed' WHEN (batches.last_changed_run_id = (SELECT max(etl_runs.run_id) AS max_1 
FROM etl_runs)) THEN 'changed' ELSE 'unchanged' END AS change_type, moves.old_status, moves.new_status, batches.status, batches.removed_upstream_at, CAST(coalesce(answers.new, 0) AS SIGNED INTEGER) AS new_responses, CAST(coalesce(answers.changed, 0) AS SIGNED INTEGER) AS changed_responses, CAST(coalesce(new_submissions.n, 0) AS SIGNED INTEGER) AS new_submissions, CAST(coalesce(submission_moves.n, 0) AS SIGNED INTEGER) AS submission_status_moves 
FROM batches LEFT OUTER JOIN (SELECT batch_status_history.batch_id AS batch_id, min(batch_status_history.old_status) AS old_status, max(batch_status_history.new_status) AS new_status 
FROM batch_status_history 
WHERE batch_status_history.run_id = (SELECT max(etl_runs.run_id) AS max_1 
FROM etl_runs) AND batch_status_history.old_status IS NOT NULL GROUP BY batch_status_history.batch_id) AS moves ON moves.batch_id = batches.batch_id LEFT OUTER JOIN (SELECT touched.batch_id AS batch_id, sum(touched.new) AS new, sum(touched.changed) AS changed 
FROM (SELECT responses.batch_id AS batch_id, 1 AS new, 0 AS changed 
FROM responses 
WHERE responses.first_seen_at >= (SELECT etl_runs.started_at 
FROM etl_runs 
WHERE etl_runs.run_id = (SELECT max(etl_runs.run_id) AS max_1 
FROM etl_runs)) UNION ALL SELECT responses.batch_id AS batch_id, 0 AS anon_1, 1 AS anon_2 
FROM responses 
WHERE responses.last_changed_run_id = (SELECT max(etl_runs.run_id) AS max_1 
FROM etl_runs) AND responses.first_seen_at < (SELECT etl_runs.started_at 
FROM etl_runs 
WHERE etl_runs.run_id = (SELECT max(etl_runs.run_id) AS max_1 
FROM etl_runs))) AS touched GROUP BY touched.batch_id) AS answers ON answers.batch_id = batches.batch_id LEFT OUTER JOIN (SELECT studies.batch_id AS batch_id, count(*) AS n 
FROM submissions INNER JOIN studies ON studies.study_id = submissions.study_id 
WHERE submissions.first_seen_at >= (SELECT etl_runs.started_at 
FROM etl_runs 
WHERE etl_runs.run_id = (SELECT max(etl_runs.run_id) AS max_1 
FROM etl_runs)) GROUP BY studies.batch_id) AS new_submissions ON new_submissions.batch_id = batches.batch_id LEFT OUTER JOIN (SELECT studies.batch_id AS batch_id, count(*) AS n 
FROM submission_status_history INNER JOIN submissions ON submissions.submission_id = submission_status_history.submission_id INNER JOIN studies ON studies.study_id = submissions.study_id 
WHERE submission_status_history.run_id = (SELECT max(etl_runs.run_id) AS max_1 
FROM etl_runs) AND submission_status_history.old_status IS NOT NULL GROUP BY studies.batch_id) AS submission_moves ON submission_moves.batch_id = batches.batch_id 
WHERE batches.first_seen_run_id = (SELECT max(etl_runs.run_id) AS max_1 
FROM etl_runs) OR batches.last_changed_run_id = (SELECT max(etl_runs.run_id) AS max_1 
FROM etl_runs) OR batches.removed_upstream_at IS NOT NULL AND batches.removed_upstream_at >= (SELECT etl_runs.started_at 
FROM etl_runs 
WHERE etl_runs.run_id = (SELECT max(etl_runs.run_id) AS max_1 
FROM etl_runs)) OR moves.batch_id IS NOT NULL OR answers.batch_id IS NOT NULL OR new_submissions.batch_id IS NOT NULL OR submission_moves.batch_id IS NOT NULL;
