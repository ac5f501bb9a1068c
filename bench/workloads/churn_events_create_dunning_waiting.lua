-- POST churn-events while 10,000 dunning emails wait in scheduled_jobs (set up by
-- health_dunning_waiting, run before this workload): compare with `churn_events_create`.
dofile("bench/workloads/churn_events_create.lua")
