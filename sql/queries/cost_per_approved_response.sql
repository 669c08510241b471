-- What has each batch cost so far, and what did each approved response cost?
SELECT batch_id, name, total_cost, currency, approved_responses, cost_per_approved_response
FROM v_batch_cost
ORDER BY cost_per_approved_response DESC, batch_id;
