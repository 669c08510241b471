-- What changed since yesterday: which batches did the latest run add, change or find removed, whose status moved, and which got new responses or submissions?
SELECT change_type,
       name,
       batch_id,
       old_status,
       new_status,
       status,
       new_responses,
       new_submissions
FROM v_changes_last_run
ORDER BY CASE change_type WHEN 'removed' THEN 0 WHEN 'new' THEN 1 WHEN 'changed' THEN 2 ELSE 3 END,
         name,
         batch_id;
