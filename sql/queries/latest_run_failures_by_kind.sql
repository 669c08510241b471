-- What went wrong in the latest run, by stage and kind of error?
SELECT stage, error_kind, COUNT(*) AS failures
FROM v_latest_run_failures
GROUP BY stage, error_kind
ORDER BY failures DESC, stage, error_kind;
