-- Which participants get rejected, and how fast do they work?
SELECT participant_id, submissions, approved, rejected, returned, approval_rate,
       median_time_taken
FROM v_participants
WHERE rejected > 0
ORDER BY approval_rate, rejected DESC, participant_id;
