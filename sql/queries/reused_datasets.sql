-- Which datasets are used by more than one batch, and by how many batches in each workspace?
SELECT dataset_id, filename, batches_using, workspace_id, COUNT(*) AS batches_in_workspace
FROM v_dataset_usage
WHERE batches_using > 1
GROUP BY dataset_id, filename, batches_using, workspace_id
ORDER BY batches_using DESC, dataset_id, workspace_id;
