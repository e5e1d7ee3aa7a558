//! Outages: Redis restarted mid-run (SSE clients lose nothing and see nothing twice), Postgres restarted (503
//! while it is down, served again without restarting the replicas).
